// Command meshgate-kube-apiserver runs a real Kubernetes control plane for tests in one process
// tree: an embedded etcd, kube-apiserver (the upstream code, not an imitation), and
// kube-controller-manager with only the garbage-collector and namespace controllers, so owner
// references and namespace deletion behave as in a cluster. No kubelet, scheduler or nodes: pods
// never run.
//
//	meshgate-kube-apiserver --data-dir DIR [--controller-manager-kubeconfig FILE] -- <kube-apiserver flags>
//
// Certificates, tokens and the kubeconfig are the caller's job (test/kube/server.ts), so this
// program only wires processes together and changes rarely (each change is a relink).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanagerapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// controllerManagerSubcommand is how the parent re-executes itself as kube-controller-manager.
// A separate process keeps the two components' process-wide state (feature gates, metrics
// registries, klog flags, signal handlers) apart, as in a real cluster.
const controllerManagerSubcommand = "controller-manager"

func main() {
	if len(os.Args) > 1 && os.Args[1] == controllerManagerSubcommand {
		cmd := controllermanagerapp.NewControllerManagerCommand()
		cmd.SetArgs(os.Args[2:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		return
	}
	if err := runControlPlane(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "meshgate-kube-apiserver:", err)
		os.Exit(1)
	}
}

func runControlPlane(args []string) error {
	flags := flag.NewFlagSet("meshgate-kube-apiserver", flag.ContinueOnError)
	dataDir := flags.String("data-dir", "", "directory for etcd data (reused across restarts)")
	controllerManagerKubeconfig := flags.String("controller-manager-kubeconfig", "",
		"kubeconfig for kube-controller-manager; empty runs no controllers")
	exitWithParent := flags.Bool("exit-with-parent", false,
		"shut down when the process that started this one dies (a test runner killed hard leaves no server behind)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *exitWithParent {
		go terminateWhenOrphaned(os.Getppid())
	}
	if *dataDir == "" {
		return errors.New("--data-dir is required")
	}
	apiserverArgs := flags.Args()

	etcd, etcdURL, err := startEtcd(filepath.Join(*dataDir, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	stopControllerManager := func() {}
	if *controllerManagerKubeconfig != "" {
		stopControllerManager = sync.OnceFunc(superviseControllerManager(*controllerManagerKubeconfig))
	}
	defer stopControllerManager()
	// The controller manager goes first on SIGTERM/SIGINT: the API server's shutdown waits (up to
	// a minute) for open requests to drain, and the controllers' watches never end by themselves.
	stopSignals := make(chan os.Signal, 1)
	signal.Notify(stopSignals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stopSignals
		stopControllerManager()
	}()

	// NewAPIServerCommand installs the SIGTERM/SIGINT handler: the first signal shuts the server
	// down gracefully and Execute returns, then the deferred calls stop the controllers and etcd.
	cmd := apiserverapp.NewAPIServerCommand()
	cmd.SetArgs(append([]string{"--etcd-servers=" + etcdURL}, apiserverArgs...))
	serverDone := make(chan error, 1)
	go func() { serverDone <- cmd.Execute() }()
	select {
	case err := <-serverDone:
		return err
	case err := <-etcd.Err():
		return fmt.Errorf("etcd stopped: %w", err)
	}
}

// startEtcd runs a single-member etcd on free loopback ports. The peer port is never dialled
// (one member) but etcd insists on listening on one.
func startEtcd(dir string) (*embed.Etcd, string, error) {
	clientURL, err := freeLoopbackURL()
	if err != nil {
		return nil, "", err
	}
	peerURL, err := freeLoopbackURL()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "meshgate-test"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = cfg.Name + "=" + peerURL.String()
	// Test data is disposable: skipping fsync makes every write much cheaper on a busy disk.
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "warn"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, clientURL.String(), nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("not ready within 60s")
	}
}

// terminateWhenOrphaned sends this process SIGTERM, the same graceful path as a user's stop,
// once its parent is gone (Linux then reparents it, so the parent PID changes).
func terminateWhenOrphaned(parent int) {
	for os.Getppid() == parent {
		time.Sleep(time.Second)
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
}

func freeLoopbackURL() (*url.URL, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer listener.Close()
	return &url.URL{Scheme: "http", Host: listener.Addr().String()}, nil
}

// superviseControllerManager keeps kube-controller-manager running: it exits when it cannot
// reach the API server within 10s (the API server may still be starting), so it is restarted
// after a pause until stop is called. The child gets SIGKILL if this process dies.
func superviseControllerManager(kubeconfig string) (stop func()) {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate-kube-apiserver: no controller-manager:", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			cmd := exec.Command(self, controllerManagerSubcommand,
				"--kubeconfig="+kubeconfig,
				"--controllers=garbage-collector-controller,namespace-controller",
				"--leader-elect=false",
				// No HTTPS endpoint of its own: nothing scrapes it, and it saves a port.
				"--secure-port=0",
				"-v=1",
			)
			cmd.Stdout = os.Stdout
			cmd.Stderr = os.Stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				fmt.Fprintln(os.Stderr, "meshgate-kube-apiserver: controller-manager:", err)
			} else {
				exited := make(chan struct{})
				go func() { _ = cmd.Wait(); close(exited) }()
				select {
				case <-exited:
				case <-ctx.Done():
					_ = cmd.Process.Signal(syscall.SIGTERM)
					select {
					case <-exited:
					case <-time.After(5 * time.Second):
						_ = cmd.Process.Kill()
						<-exited
					}
					return
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// On a port shared by TLS passthrough and TLS termination, connections to terminate are handed
// to an internal uWebSockets.js app over loopback, which would see every client as 127.0.0.1.
// uWebSockets.js 20.30 cannot read a PROXY header, so the client's address travels another way:
// each hand-off connects from its own loopback source address (Linux routes all of 127/8 to
// lo, no set-up needed), and the app looks that address up here to learn who the client is.

/** 127.1.0.0 onward: 127.0.0.x stays for ordinary loopback clients. */
const FIRST = (127 << 24) | (1 << 16);
const COUNT = (1 << 24) - (1 << 16);

export class ClientAliases {
  private readonly byAlias = new Map<string, string>();
  private next = 0;

  /** A loopback address not in use, now standing for `client` until released. */
  acquire(client: string): string {
    for (let tries = 0; tries < COUNT; tries++) {
      const n = FIRST + this.next;
      this.next = (this.next + 1) % COUNT;
      const alias = `127.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      if (!this.byAlias.has(alias)) {
        this.byAlias.set(alias, client);
        return alias;
      }
    }
    throw new Error("no free loopback alias");
  }

  release(alias: string): void {
    this.byAlias.delete(alias);
  }

  /** The client behind a hand-off connection's source address; undefined for any other. */
  clientOf(address: string): string | undefined {
    return this.byAlias.get(address);
  }
}

// V8 settings for every gateway process, imported first by cli.ts and by worker processes: ES
// modules run in import order, so these apply before any data-plane code is compiled. Worker
// threads share their process's settings.
import { setFlagsFromString } from "node:v8";

// Allocation-site pretenuring: when the objects of an object or array literal once survive a
// scavenge at a high rate, V8 allocates every later object of that literal straight in the old
// generation. A proxy's per-request objects live for milliseconds, but a scavenge taken while
// requests are held (for a Global rate limit's Redis answer, say) can see all of them alive and
// tenure their literals for good. From then on each request's old-generation objects keep the
// young ones they point at alive through every scavenge until the next full collection: on the
// Global-limit benchmark about 700 KB was promoted per scavenge (80 KB without a limit), p99 rose
// and RSS grew by about 50 MB. Without pretenuring nothing is tenured by guess.
setFlagsFromString("--no-allocation-site-pretenuring");

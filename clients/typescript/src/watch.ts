/**
 * File events (`fs.watch` on the folders of the key files and the config file), so
 * an agent's rename is seen at once instead of at the next stat (at most every 0.1 s
 * by default). Optional and best effort: the stat on the request path stays, so a
 * missed or unsupported event only costs that interval. The watchers never keep the
 * process alive (`persistent: false`); events are coalesced for 20 ms.
 */
import { type FSWatcher, watch } from "node:fs";

export class FolderWatcher {
  private watchers = new Map<string, FSWatcher>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly changed: () => void) {}

  /** Watch exactly `folders` from now on. */
  update(folders: Iterable<string>): void {
    const want = new Set(folders);
    for (const [dir, w] of this.watchers) {
      if (!want.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of want) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.event());
        w.on("error", () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch { /* a folder that does not exist (yet), or no inotify: the stat still runs */ }
    }
  }

  private event(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      try {
        this.changed();
      } catch { /* never let a file event break the process */ }
    }, 20);
    this.timer.unref();
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

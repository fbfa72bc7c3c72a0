package aigw

import (
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// watcher is one fsnotify watch over the folders of the key files and the config
// file. Any event in a watched folder marks every key file dirty (its next use
// stats it) and checks the config file, off the request path. Polling stays on
// underneath, so a lost event costs at most one check interval.
type watcher struct {
	c    *Client
	w    *fsnotify.Watcher
	mu   sync.Mutex
	dirs map[string]bool
	done chan struct{}
}

func startWatcher(c *Client) *watcher {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		slog.Warn("aigw: no file watcher; polling key and config files", "error", err)
		return nil
	}
	w := &watcher{c: c, w: fw, dirs: map[string]bool{}, done: make(chan struct{})}
	w.update()
	go w.run()
	return w
}

// update watches exactly the folders of the current key files and config file.
func (w *watcher) update() {
	want := map[string]bool{}
	for path := range w.c.keyFiles {
		want[filepath.Dir(path)] = true
	}
	if p := w.c.Config().Path; p != "" {
		want[filepath.Dir(p)] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for d := range w.dirs {
		if !want[d] {
			_ = w.w.Remove(d)
			delete(w.dirs, d)
		}
	}
	for d := range want {
		if !w.dirs[d] && w.w.Add(d) == nil {
			w.dirs[d] = true
		}
	}
}

func (w *watcher) run() {
	for {
		select {
		case _, ok := <-w.w.Events:
			if !ok {
				return
			}
			w.changed()
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			slog.Warn("aigw: file watcher error; polling continues", "error", err)
		case <-w.done:
			return
		}
	}
}

func (w *watcher) changed() {
	w.c.mu.Lock()
	files := make([]*keyFile, 0, len(w.c.keyFiles))
	for _, kf := range w.c.keyFiles {
		files = append(files, kf)
	}
	w.c.mu.Unlock()
	for _, kf := range files {
		kf.markDirty()
	}
	if f := w.c.follower; f != nil {
		f.checkNow()
	}
}

func (w *watcher) stop() {
	close(w.done)
	_ = w.w.Close()
}

package aigw

import (
	"errors"
	"io"
)

// readAll reads r to its end, sized by hint (a Content-Length; -1 when unknown).
func readAll(r io.Reader, hint int64) ([]byte, error) {
	if hint < 0 || hint > 64<<20 {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, hint+1) // +1: io.EOF is seen without growing
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func asError[T error](err error, target *T) bool { return errors.As(err, target) }

package httpapi

import (
	"net/http"
	"time"
)

// deadlineWriter is a ResponseWriter whose every write and flush must make
// progress within d: it moves the connection's write deadline to d from now
// before each. The server has no WriteTimeout (it would cut long streamed
// answers), so without this a client that asks for a large answer and stops
// reading it would hold its handler, and the memory of its query, for as
// long as it keeps the connection open.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

// withWriteDeadline wraps w so that each write must progress within d (the
// query deadline, query.timeout). The returned function lifts the deadline
// again, so that it does not carry over to the next request of a keep-alive
// connection; call it when the handler is done.
func withWriteDeadline(w http.ResponseWriter, d time.Duration) (http.ResponseWriter, func()) {
	rc := http.NewResponseController(w)
	dw := &deadlineWriter{ResponseWriter: w, rc: rc, d: d}
	return dw, func() { _ = rc.SetWriteDeadline(time.Time{}) }
}

func (w *deadlineWriter) refresh() {
	// Writers that cannot take a deadline (httptest's recorder) answer
	// ErrNotSupported; they do not block either.
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
}

// Write moves the write deadline and writes b.
func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.refresh()
	return w.ResponseWriter.Write(b)
}

// FlushError moves the write deadline and flushes what is buffered to the
// client (http.ResponseController finds it).
func (w *deadlineWriter) FlushError() error {
	w.refresh()
	return w.rc.Flush()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

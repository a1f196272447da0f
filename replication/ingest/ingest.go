// Package ingest owns Soltix's asynchronous ingestion over NATS (and MQTT,
// through the NATS server's MQTT listener): a Subscriber takes write
// bodies published to soltix.ingest.<collection>, writes their points
// through the same httpapi.Store and decoding as POST /api/v1/write, and
// publishes what it cannot write to soltix.deadletter with the reason.
//
// # Subjects and headers
//
// A message on soltix.ingest.<collection> is a write body: line protocol,
// or JSON (one object or an array, as POST /api/v1/write takes) when its
// Content-Type header is application/json. Every point must be in the
// subject's collection; for JSON it is also the default collection. MQTT
// devices publish line protocol to the topic soltix/ingest/<collection>,
// which the NATS server maps to that subject. Optional headers:
//
//	Content-Type: application/json     JSON body (line protocol otherwise)
//	Content-Encoding: gzip             gzip-compressed body
//	Soltix-Precision: ns|us|ms|s       unit of integer timestamps (default ns)
//
// Subscribers join the queue group "soltix-ingest", so that every message
// is handled by one of the routers (or serve processes) subscribed.
//
// # What is written
//
// The good lines of a body are written, as over HTTP, in one Store.Write;
// unlike over HTTP, where a body with a bad line is refused whole and the
// client told, there is nobody to tell, so the bad lines do not stop the
// good ones. A body that is refused whole (too large, bad header, JSON that
// does not parse) or has bad lines is published to soltix.deadletter:
// the original body and headers plus
//
//	Soltix-Reason: too-large | bad-header | bad-body | bad-lines | unavailable | failed
//	Soltix-Error: a sentence ("2 bad lines; 3 points written")
//	Soltix-Collection, Soltix-Subject: where the message was published
//	Soltix-Written: points of the body that were written
//	Soltix-Lines: the bad lines as JSON, [{"line","column","reason"},...]
//	Soltix-Truncated: the body's size, when the body had to be cut to fit
//	                  the server's max_payload
//
// # Transient failures
//
// A write the store refuses for a passing reason (storage unavailable or
// closed, memory backpressure, a group without a reachable primary: what
// the HTTP API answers 503) is retried with exponential backoff (100 ms
// doubling up to 5 s, Options.MaxRetries times, 8 by default: about 20 s
// in all), then dead-lettered with reason "unavailable"; any other store
// error is retried the same way and dead-lettered as "failed". While a
// message is retried its worker takes no other: the NATS client buffers
// what arrives meanwhile (up to its pending limits; beyond them it drops
// messages and soltix_ingest_dropped_total counts them). A stopping
// subscriber tries the messages it still holds once more without waiting
// and dead-letters those that fail instead of retrying them. Core NATS delivers at most once: a message in flight when its
// process crashes is lost.
//
// # Replies
//
// A message with a reply subject (a NATS request) is answered once it is
// handled with {"written":N} or {"written":N,"reason":"...","error":"..."}.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/httpapi"
)

// Subjects and the queue group.
const (
	// SubjectPrefix starts the subject of a collection's ingestion.
	SubjectPrefix = "soltix.ingest."
	// DeadLetterSubject receives what could not be written.
	DeadLetterSubject = "soltix.deadletter"
	// QueueGroup is the queue group subscribers join.
	QueueGroup = "soltix-ingest"
)

// Defaults of Options.
const (
	DefaultWorkers      = 4
	DefaultMaxRetries   = 8
	DefaultRetryBackoff = 100 * time.Millisecond
	// maxBackoff caps the wait between two retries.
	maxBackoff = 5 * time.Second
	// DefaultWriteTimeout bounds one Store.Write.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxPendingBytes bounds the messages received and not yet
	// handled.
	DefaultMaxPendingBytes = 64 << 20
	// maxPendingMsgs bounds their number.
	maxPendingMsgs = 1 << 16
)

// Options configure a Subscriber. The zero value is usable.
type Options struct {
	// Name is the NATS connection's name, shown by the server's
	// monitoring (default "soltix").
	Name string
	// Workers is the number of messages handled at once (default 4).
	Workers int
	// MaxBodyBytes bounds a body, as sent and after gzip decompression
	// (default httpapi.DefaultMaxBodyBytes); the NATS server's
	// max_payload bounds what it accepts before.
	MaxBodyBytes int64
	// MaxRetries is how many times a write that failed for a passing
	// reason is retried before the message is dead-lettered (default 8;
	// negative: never retried).
	MaxRetries int
	// RetryBackoff is the first wait before a retry; it doubles up to 5 s
	// (default 100 ms).
	RetryBackoff time.Duration
	// MaxPendingBytes bounds the bytes of messages received and not yet
	// handled (default 64 MiB); beyond it the NATS client drops messages
	// (soltix_ingest_dropped_total).
	MaxPendingBytes int64
	// WriteTimeout bounds one Store.Write (default 30 s).
	WriteTimeout time.Duration
	// Now stamps points without a time and is the clock of retention
	// checks (default time.Now).
	Now func() time.Time
	// Logger receives what goes wrong (default slog.Default()).
	Logger *slog.Logger
}

// Subscriber takes write bodies from NATS and writes them to a Store.
type Subscriber struct {
	store   httpapi.Store
	opts    Options
	log     *slog.Logger
	nc      *nats.Conn
	subs    []*nats.Subscription
	metrics metrics
	// stopping is cancelled by Close: retries end and the messages still
	// held are dead-lettered.
	stopping context.Context
	stop     context.CancelFunc
	closed   chan struct{} // closed when the connection is
	once     sync.Once
}

// Start connects to the NATS servers at urls (tried in turn; the
// connection is kept and re-established for as long as the Subscriber
// runs, and may still be down when Start returns) and subscribes to
// soltix.ingest.* in the queue group, writing to store.
func Start(urls []string, store httpapi.Store, opts Options) (*Subscriber, error) {
	if len(urls) == 0 {
		return nil, errors.New("ingest: no NATS URL")
	}
	opts = opts.withDefaults()
	s := &Subscriber{store: store, opts: opts, log: opts.Logger, closed: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.stopping, s.stop = context.WithCancel(context.Background())
	s.metrics.deadLetters = make(map[string]uint64)
	nc, err := nats.Connect(joinURLs(urls),
		nats.Name(opts.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// Retries end when Close starts; what they still hold is
		// dead-lettered well within this.
		nats.DrainTimeout(opts.WriteTimeout+10*time.Second),
		nats.ClosedHandler(func(*nats.Conn) { close(s.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("ingest: disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			s.log.Info("ingest: reconnected to NATS", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				s.log.Warn("ingest: falling behind, NATS client dropped messages", "err", err)
				return
			}
			s.log.Warn("ingest: NATS error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("ingest: connect to NATS %v: %w", urls, err)
	}
	s.nc = nc
	// Each subscription has its own delivery goroutine: Workers queue
	// subscriptions handle Workers messages at once.
	for range opts.Workers {
		sub, err := nc.QueueSubscribe(SubjectPrefix+"*", QueueGroup, s.handle)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("ingest: subscribe to %s*: %w", SubjectPrefix, err)
		}
		if err := sub.SetPendingLimits(maxPendingMsgs/opts.Workers, int(max(opts.MaxPendingBytes/int64(opts.Workers), 1))); err != nil {
			nc.Close()
			return nil, fmt.Errorf("ingest: pending limits: %w", err)
		}
		s.subs = append(s.subs, sub)
	}
	if nc.IsConnected() {
		// The server has the subscriptions once this returns: a message
		// published after Start returns is not missed.
		if err := nc.FlushTimeout(10 * time.Second); err != nil {
			s.log.Warn("ingest: NATS flush", "err", err)
		}
	}
	return s, nil
}

// withDefaults returns o with its zero values replaced by the defaults.
func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "soltix"
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = httpapi.DefaultMaxBodyBytes
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func joinURLs(urls []string) string {
	out := urls[0]
	for _, u := range urls[1:] {
		out += "," + u
	}
	return out
}

// Close stops taking messages, finishes (or dead-letters) those taken,
// and closes the connection, waiting at most until ctx ends.
func (s *Subscriber) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.stop()
		if derr := s.nc.Drain(); derr != nil {
			s.nc.Close()
		}
		select {
		case <-s.closed:
		case <-ctx.Done():
			s.nc.Close()
			err = fmt.Errorf("ingest: close: %w", ctx.Err())
		}
	})
	return err
}

// Connected reports whether the connection to NATS is up.
func (s *Subscriber) Connected() bool { return s.nc.IsConnected() }

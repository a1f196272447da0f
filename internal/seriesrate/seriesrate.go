// Package seriesrate bounds the new series a collection gains per minute
// (limits.new_series_per_minute): the token buckets and the admission of
// a batch's points that soltix serve's HTTP API and a cluster's storage
// nodes both apply to the writes they receive.
package seriesrate

import (
	"math"
	"sync"
	"time"

	"github.com/soltixdb/soltix/model"
)

// Limiter bounds the new series per collection and minute: each
// collection has a bucket of Rate tokens, refilled at Rate per minute; a
// new series takes one. It is safe for concurrent use.
type Limiter struct {
	rate float64 // tokens per minute, and the bucket's size
	mu   sync.Mutex
	b    map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a Limiter of n new series per minute, or nil (no limit) for
// n < 0; 0 takes def.
func New(n, def int) *Limiter {
	if n == 0 {
		n = def
	}
	if n < 0 {
		return nil
	}
	return &Limiter{rate: float64(n), b: map[string]*bucket{}}
}

// Rate is the limit in new series per minute.
func (l *Limiter) Rate() int { return int(l.rate) }

// RetryAfter is the whole seconds until a bucket regains one token.
func (l *Limiter) RetryAfter() int { return max(1, int(math.Ceil(60/l.rate))) }

// take takes up to n tokens of collection's bucket at now and returns how
// many it took.
func (l *Limiter) take(collection string, n int, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b[collection]
	if b == nil {
		b = &bucket{tokens: l.rate, at: now}
		l.b[collection] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.rate, b.tokens+l.rate*d.Minutes())
		b.at = now
	}
	got := min(n, int(b.tokens))
	b.tokens -= float64(got)
	return got
}

// Grant is what Admit allowed a batch: the tokens to give back (GiveBack)
// if the write fails.
type Grant map[string]int

// GiveBack returns the tokens of a batch that was not written.
func (l *Limiter) GiveBack(g Grant) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for c, n := range g {
		if b := l.b[c]; b != nil {
			b.tokens = min(l.rate, b.tokens+float64(n))
		}
	}
}

// Admit decides which of points may be written: those of known series
// (isNew[i] false) and those of the new series the collections' buckets
// allow, in order of first point. It returns the indexes of the points
// refused, ascending (nil when none), and the tokens taken. A new series
// takes one token however many points of it the batch holds. A nil
// Limiter admits everything.
func (l *Limiter) Admit(points []model.Point, isNew []bool, now time.Time) ([]int, Grant) {
	if l == nil {
		return nil, nil
	}
	var (
		keys    []string // per point, "" for known series
		order   []string // collections in order of first new series
		wanted  = map[string][]string{}
		allowed = map[string]bool{}
	)
	for i, n := range isNew {
		if !n || i >= len(points) {
			continue
		}
		if keys == nil {
			keys = make([]string, len(points))
		}
		k := model.SeriesKey(points[i].Collection, points[i].Tags)
		keys[i] = k
		if _, seen := allowed[k]; seen {
			continue
		}
		allowed[k] = false
		c := points[i].Collection
		if wanted[c] == nil {
			order = append(order, c)
		}
		wanted[c] = append(wanted[c], k)
	}
	if keys == nil {
		return nil, nil
	}
	grant := Grant{}
	refusedAny := false
	for _, c := range order {
		got := l.take(c, len(wanted[c]), now)
		grant[c] = got
		for _, k := range wanted[c][:got] {
			allowed[k] = true
		}
		refusedAny = refusedAny || got < len(wanted[c])
	}
	if !refusedAny {
		return nil, grant
	}
	var refused []int
	for i, k := range keys {
		if k != "" && !allowed[k] {
			refused = append(refused, i)
		}
	}
	return refused, grant
}

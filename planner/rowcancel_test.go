package planner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// cancelOnRead is a Source that cancels the query's context as soon as it
// has returned its one (large) chunk, so every row is evaluated after the
// cancel.
type cancelOnRead struct {
	Source
	cancel context.CancelFunc
}

func (c cancelOnRead) Read(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	cols, err := c.Source.Read(ctx, coll, tags, fields, min, max)
	c.cancel()
	return cols, err
}

// TestCancelInsideChunk checks that a cancelled query stops within a few
// thousand rows of one chunk, not at the chunk's end: 200,000 rows in one
// chunk under a 50,000-term AND chain that set merging cannot collapse
// (10^10 comparisons if the chunk ran to its end; ~5*10^7 when stopped
// after rowCheckEvery rows). The aggregate and the raw-select row loops
// both answer context.Canceled well within a generous bound.
func TestCancelInsideChunk(t *testing.T) {
	const rows, terms = 200_000, 50_000
	m := newMemSource()
	v := model.Column{Name: "v", Kind: model.KindFloat}
	for i := range rows {
		v.Append(t0+int64(i)*int64(time.Millisecond), model.Float(float64(i)))
	}
	m.put("c", "host=a", v)
	parts := make([]string, terms)
	for i := range parts {
		parts[i] = fmt.Sprintf("v > %d", -1-i)
	}
	where := strings.Join(parts, " AND ")
	for _, q := range []string{
		"SELECT count(v) FROM c WHERE " + where,
		"SELECT v FROM c WHERE " + where,
	} {
		stmt, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := ExecuteWith(ctx, cancelOnRead{Source: m, cancel: cancel}, stmt, Options{Now: testNow})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%.30s: %v, want context.Canceled", q, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%.30s: still evaluating the chunk 15 s after the cancel", q)
		}
		cancel()
	}
}

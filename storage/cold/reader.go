package cold

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// bodyAttempts is how often a page run is fetched when its body comes back
// short or fails the whole-object checksum (the SDK has already retried
// failed requests beneath).
const bodyAttempts = 3

// Reader reads one object of a known size with ranged GETs through the
// Store's page cache. It is an io.ReaderAt, safe for concurrent use.
//
// What it detects: a failed GET (after the SDK's retries), a body shorter
// than asked, a Content-Range or length that disagrees with the size the
// Reader was made with (the object was replaced or truncated), and, when
// one GET covers the whole object (small objects), a body whose CRC32C,
// CRC32 or MD5 ETag differs from the one S3 keeps. Each is an error naming
// the object; no partial data is returned with it. A byte corrupted on the
// way inside a ranged GET of a larger object is not detected here: the
// colfile CRCs over every block, the index and the footer detect it.
type Reader struct {
	s     *Store
	key   string
	size  int64
	stats counters
	// fetched is set by the first GET, to count the object once in
	// Stats.Objects.
	fetched atomic.Bool
}

// Reader returns a reader of the object key, which must be size bytes
// long. It makes no request until read.
func (s *Store) Reader(key string, size int64) *Reader {
	return &Reader{s: s, key: key, size: size}
}

// Key returns the object's key.
func (r *Reader) Key() string { return r.key }

// Size returns the object's size as given to Store.Reader.
func (r *Reader) Size() int64 { return r.size }

// Stats returns this reader's share of the Store's counters.
func (r *Reader) Stats() Stats { return r.stats.snapshot() }

// ReadAt reads len(p) bytes at off (see ReadAtContext), with no context.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	return r.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext reads len(p) bytes at off: all of them, or fewer with
// io.EOF when the object ends first, or an error naming the object and no
// data. Waiting ends when ctx does; a fetch it started goes on (bounded by
// the Store's timeout) for other readers of the same pages.
func (r *Reader) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cold: read %s: negative offset %d", r.name(), off)
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.size)
	if end == off {
		return 0, nil
	}
	ps := r.s.cfg.PageSize
	first, last := off/ps, (end-1)/ps
	calls := make([]*call, last-first+1)
	datas := make([][]byte, len(calls))
	var owned []int64
	for pg := first; pg <= last; pg++ {
		data, cl, owner := r.s.cache.claim(pageKey{r.key, pg})
		i := pg - first
		switch {
		case data != nil:
			datas[i] = data
			r.hit()
		case owner:
			calls[i] = cl
			owned = append(owned, pg)
			r.miss()
		default:
			calls[i] = cl
			r.hit()
		}
	}
	if len(owned) > 0 {
		mine := make(map[int64]*call, len(owned))
		for _, pg := range owned {
			mine[pg] = calls[pg-first]
		}
		// The fetch does not end with the caller's context: other
		// readers may be waiting for these pages.
		fctx := context.WithoutCancel(ctx)
		go r.fetchOwned(fctx, owned, mine)
	}
	for i, cl := range calls {
		if cl == nil {
			continue
		}
		select {
		case <-cl.done:
		case <-ctx.Done():
			return 0, fmt.Errorf("cold: read %s: %w", r.name(), ctx.Err())
		}
		if cl.err != nil {
			return 0, cl.err
		}
		datas[i] = cl.data
	}
	n := 0
	for i, data := range datas {
		pgStart := (first + int64(i)) * ps
		lo := max(off, pgStart) - pgStart
		hi := min(end, pgStart+int64(len(data))) - pgStart
		if hi < lo || int64(len(data)) < hi {
			return 0, fmt.Errorf("cold: read %s: page %d holds %d bytes: %w", r.name(), first+int64(i), len(data), io.ErrUnexpectedEOF)
		}
		n += copy(p[n:], data[lo:hi])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fetchOwned fetches the pages this reader claimed, one GET per run of
// consecutive pages, and finishes every claimed call, with an error if its
// run failed.
func (r *Reader) fetchOwned(ctx context.Context, owned []int64, calls map[int64]*call) {
	ps := r.s.cfg.PageSize
	for i := 0; i < len(owned); {
		j := i + 1
		for j < len(owned) && owned[j] == owned[j-1]+1 {
			j++
		}
		start := owned[i] * ps
		end := min((owned[j-1]+1)*ps, r.size)
		buf, err := r.fetch(ctx, start, end)
		for _, pg := range owned[i:j] {
			k := pageKey{r.key, pg}
			if err != nil {
				r.s.cache.finish(k, calls[pg], nil, err)
				continue
			}
			lo := pg*ps - start
			hi := min(lo+ps, int64(len(buf)))
			page := buf[lo:hi:hi]
			if j-i > 1 {
				// Its own copy, so that a page kept in the cache does not
				// hold the whole run's buffer beyond the cache's count.
				page = append([]byte(nil), page...)
			}
			r.s.cache.finish(k, calls[pg], page, nil)
		}
		i = j
	}
}

func (r *Reader) hit() {
	r.stats.hits.Add(1)
	r.s.stats.hits.Add(1)
}

func (r *Reader) miss() {
	r.stats.misses.Add(1)
	r.s.stats.misses.Add(1)
}

func (r *Reader) name() string { return r.s.name(r.key) }

// fetch returns bytes [start, end) of the object, retrying a short or
// corrupt body up to bodyAttempts times.
func (r *Reader) fetch(ctx context.Context, start, end int64) ([]byte, error) {
	var err error
	for range bodyAttempts {
		var buf []byte
		buf, err = r.get(ctx, start, end)
		if err == nil {
			return buf, nil
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMismatch) || errors.Is(err, errSize) || ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("cold: read %s bytes %d-%d: %w", r.name(), start, end-1, err)
}

// errSize marks a length or Content-Range that disagrees with the
// reader's size; fetching again does not help.
var errSize = errors.New("object size differs from the recorded size")

// get makes one GET of bytes [start, end): ranged, or whole (with the
// object's checksum asked for and checked) when the range is the object.
func (r *Reader) get(ctx context.Context, start, end int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.s.cfg.Timeout)
	defer cancel()
	whole := start == 0 && end == r.size
	in := &s3.GetObjectInput{Bucket: aws.String(r.s.bucket), Key: aws.String(r.key)}
	if whole {
		in.ChecksumMode = types.ChecksumModeEnabled
	} else {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", start, end-1))
	}
	if !r.fetched.Swap(true) {
		r.stats.objects.Add(1)
		r.s.stats.objects.Add(1)
	}
	r.stats.requests.Add(1)
	r.s.stats.requests.Add(1)
	out, err := r.s.client.GetObject(ctx, in)
	if err != nil {
		if statusOf(err) == 404 {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	defer out.Body.Close()
	if whole {
		if n := aws.ToInt64(out.ContentLength); out.ContentLength != nil && n != r.size {
			return nil, fmt.Errorf("object is %d bytes, recorded %d: %w", n, r.size, errSize)
		}
	} else {
		cr := aws.ToString(out.ContentRange)
		a, b, total, err := parseContentRange(cr)
		if err != nil {
			return nil, err
		}
		if total != r.size {
			return nil, fmt.Errorf("object is %d bytes, recorded %d: %w", total, r.size, errSize)
		}
		if a != start || b != end-1 {
			return nil, fmt.Errorf("asked bytes %d-%d, got %q: %w", start, end-1, cr, errSize)
		}
	}
	buf := make([]byte, end-start)
	n, err := io.ReadFull(out.Body, buf)
	r.stats.bytes.Add(int64(n))
	r.s.stats.bytes.Add(int64(n))
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("body ended after %d of %d bytes: %w", n, len(buf), err)
		}
		return nil, fmt.Errorf("body ended after %d of %d bytes: %w: %w", n, len(buf), io.ErrUnexpectedEOF, err)
	}
	if whole {
		if err := checkWhole(buf, out); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// checkWhole compares a whole object's bytes with the checksum S3 sent:
// full-object CRC32C or CRC32, else an MD5 ETag. A composite checksum or
// an ETag of a multipart or encrypted object cannot be checked here.
func checkWhole(buf []byte, out *s3.GetObjectOutput) error {
	if c := aws.ToString(out.ChecksumCRC32C); c != "" && !strings.Contains(c, "-") {
		if got := b64(crc32.Checksum(buf, castagnoli)); got != c {
			return fmt.Errorf("crc32c %s, object's %s: %w", got, c, ErrMismatch)
		}
		return nil
	}
	if c := aws.ToString(out.ChecksumCRC32); c != "" && !strings.Contains(c, "-") {
		if got := b64(crc32.ChecksumIEEE(buf)); got != c {
			return fmt.Errorf("crc32 %s, object's %s: %w", got, c, ErrMismatch)
		}
		return nil
	}
	if etag := strings.Trim(aws.ToString(out.ETag), `"`); len(etag) == 32 {
		if _, err := hex.DecodeString(etag); err == nil {
			sum := md5.Sum(buf)
			if got := hex.EncodeToString(sum[:]); got != etag {
				return fmt.Errorf("md5 %s, object's ETag %s: %w", got, etag, ErrMismatch)
			}
		}
	}
	return nil
}

// parseContentRange parses "bytes first-last/total" (decimal digits only,
// as S3 sends it) with a known total.
func parseContentRange(s string) (first, last, total int64, err error) {
	bad := func() (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("bad Content-Range %q: %w", s, errSize)
	}
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return bad()
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return bad()
	}
	var ok1, ok2, ok3 bool
	first, ok1 = decimal(a)
	last, ok2 = decimal(b)
	total, ok3 = decimal(tot)
	if !ok1 || !ok2 || !ok3 || last < first || total <= last {
		return bad()
	}
	return first, last, total, nil
}

// decimal parses a non-negative decimal without sign or leading zeros
// (other than "0") that fits an int64.
func decimal(s string) (int64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

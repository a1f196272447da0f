package backup

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/soltixdb/soltix/storage/cold"
)

// Target is where a backup is written and read from: a directory, or a
// prefix of an S3 bucket (the same layout below both: backup.json and
// groups/NNNN/<path>). Make one with OpenTarget.
type Target interface {
	// String names the target for messages (a path or s3://bucket/prefix).
	String() string
	// checkEmpty returns an error unless the target holds nothing (it
	// makes a missing directory).
	checkEmpty(ctx context.Context) error
	// create starts writing the file name (slash-separated, relative to
	// the target); the bytes are only stored by commit.
	create(name string) (fileWriter, error)
	// open reads the file name, which the manifest says is size bytes.
	open(ctx context.Context, name string, size int64) (io.ReadCloser, error)
	// stat returns the size of the file name (os.ErrNotExist wrapped
	// when it is missing).
	stat(ctx context.Context, name string) (int64, error)
	// Close releases what the target holds open.
	Close()
}

// fileWriter is one file being written to a Target.
type fileWriter interface {
	io.Writer
	// commit stores the file: synced to disk, or uploaded and verified.
	commit(ctx context.Context) error
	// abort drops what was written.
	abort()
}

// S3Options configures an s3:// target. Empty fields fall back to the
// standard AWS sources (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files), as the cold
// tier's do.
type S3Options struct {
	Endpoint  string
	Region    string
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when both set, replace the
	// standard credential chain.
	AccessKeyID, SecretAccessKey string
}

// IsS3 reports whether a backup location names an S3 target.
func IsS3(loc string) bool { return strings.HasPrefix(loc, "s3://") }

// ParseS3 splits s3://bucket/prefix into its bucket and prefix (without
// slashes at its ends; "" for the bucket's root).
func ParseS3(loc string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// location", loc)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket (want s3://bucket/prefix)", loc)
	}
	if prefix != "" && path.Clean(prefix) != prefix || strings.Contains(prefix, "//") || prefix == "." || strings.HasPrefix(prefix, "../") || prefix == ".." {
		return "", "", fmt.Errorf("%q: prefix %q is not a clean path", loc, prefix)
	}
	return bucket, prefix, nil
}

// OpenTarget opens the backup location loc: a directory, or an
// s3://bucket/prefix location reached with s3 (its bucket must answer).
func OpenTarget(ctx context.Context, loc string, s3 S3Options) (Target, error) {
	if !IsS3(loc) {
		if loc == "" {
			return nil, errors.New("no backup location")
		}
		return dirTarget(loc), nil
	}
	bucket, prefix, err := ParseS3(loc)
	if err != nil {
		return nil, err
	}
	st, err := cold.Open(ctx, cold.Config{Bucket: bucket, Prefix: prefix, Endpoint: s3.Endpoint, Region: s3.Region,
		PathStyle: s3.PathStyle, AccessKeyID: s3.AccessKeyID, SecretAccessKey: s3.SecretAccessKey,
		// Backups read each object once, in order: a small cache.
		CacheBytes: 8 << 20})
	if err != nil {
		return nil, fmt.Errorf("backup location %s: %w", loc, err)
	}
	return &s3Target{st: st, loc: "s3://" + bucket + "/" + prefix}, nil
}

// dirTarget is a backup directory.
type dirTarget string

func (d dirTarget) String() string { return string(d) }
func (d dirTarget) Close()         {}

func (d dirTarget) checkEmpty(context.Context) error { return requireEmpty(string(d)) }

func (d dirTarget) file(name string) string {
	return filepath.Join(string(d), filepath.FromSlash(name))
}

func (d dirTarget) create(name string) (fileWriter, error) {
	p := d.file(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(p)
	if err != nil {
		return nil, err
	}
	return &dirWriter{f: f}, nil
}

func (d dirTarget) open(_ context.Context, name string, _ int64) (io.ReadCloser, error) {
	return os.Open(d.file(name))
}

func (d dirTarget) stat(_ context.Context, name string) (int64, error) {
	fi, err := os.Stat(d.file(name))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

type dirWriter struct{ f *os.File }

func (w *dirWriter) Write(b []byte) (int, error) { return w.f.Write(b) }

func (w *dirWriter) commit(context.Context) error {
	err := errors.Join(w.f.Sync(), w.f.Close())
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(w.f.Name()))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func (w *dirWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// s3Target is a prefix of a bucket; its files are objects below it.
type s3Target struct {
	st  *cold.Store
	loc string
}

func (s *s3Target) String() string { return s.loc }
func (s *s3Target) Close()         { s.st.Close() }

func (s *s3Target) key(name string) string {
	if s.st.Prefix() == "" {
		return name
	}
	return s.st.Prefix() + "/" + name
}

func (s *s3Target) checkEmpty(ctx context.Context) error {
	prefix := ""
	if s.st.Prefix() != "" {
		prefix = s.st.Prefix() + "/"
	}
	objs, err := s.st.List(ctx, prefix)
	if err != nil {
		return err
	}
	if len(objs) > 0 {
		return fmt.Errorf("%s is not empty (%d objects, e.g. %s)", s.loc, len(objs), objs[0].Key)
	}
	return nil
}

// create spools the file to a temporary file: an upload needs its size
// and checksums first (cold.Store.Upload reads it twice).
func (s *s3Target) create(name string) (fileWriter, error) {
	f, err := os.CreateTemp("", "soltix-backup-*")
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", name, err)
	}
	return &s3Writer{t: s, key: s.key(name), f: f}, nil
}

func (s *s3Target) open(ctx context.Context, name string, size int64) (io.ReadCloser, error) {
	r := s.st.Reader(s.key(name), size)
	return io.NopCloser(io.NewSectionReader(ctxReaderAt{ctx, r}, 0, size)), nil
}

func (s *s3Target) stat(ctx context.Context, name string) (int64, error) {
	o, err := s.st.Stat(ctx, s.key(name))
	if errors.Is(err, cold.ErrNotFound) {
		return 0, fmt.Errorf("%w: %w", os.ErrNotExist, err)
	}
	return o.Size, err
}

// ctxReaderAt reads an object with a context.
type ctxReaderAt struct {
	ctx context.Context
	r   *cold.Reader
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	return c.r.ReadAtContext(c.ctx, p, off)
}

type s3Writer struct {
	t   *s3Target
	key string
	f   *os.File
	n   int64
}

func (w *s3Writer) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	w.n += int64(n)
	return n, err
}

// commit uploads the spooled file; cold.Store.Upload checks the object's
// size and checksum against the local bytes.
func (w *s3Writer) commit(ctx context.Context) error {
	defer w.abort()
	_, err := w.t.st.Upload(ctx, w.key, w.f, w.n)
	return err
}

func (w *s3Writer) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// checkedReader passes r on and fails at its end unless it gave exactly
// the size and CRC-32C the manifest lists: what Verify checked may not
// change before it is imported.
type checkedReader struct {
	r    io.ReadCloser
	f    File
	name string
	n    int64
	h    hashWriter
}

type hashWriter interface {
	io.Writer
	Sum32() uint32
}

func newCheckedReader(r io.ReadCloser, f File, name string) *checkedReader {
	return &checkedReader{r: r, f: f, name: name, h: crc32.New(castagnoli)}
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if c.n > c.f.Size {
		return n, fmt.Errorf("backup file %s: more than %d bytes (changed since it was verified)", c.name, c.f.Size)
	}
	if err == io.EOF && (c.n != c.f.Size || c.h.Sum32() != c.f.CRC32C) {
		return n, fmt.Errorf("backup file %s: %d bytes with CRC-32C %08x, want %d and %08x (changed since it was verified)",
			c.name, c.n, c.h.Sum32(), c.f.Size, c.f.CRC32C)
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.r.Close() }

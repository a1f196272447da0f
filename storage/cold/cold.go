// Package cold is the cold tier's object store: the one place that talks to
// S3 (AWS or any S3-compatible server) and the only package that imports
// aws-sdk-go-v2. It owns the client configuration (explicit Config fields
// over the standard AWS variables and shared files), the object layout
// (<prefix>/<collection>/group_NNNN/<level>/<file>), uploads verified
// against a checksum S3 computed, listing and deleting objects, and reads:
// an io.ReaderAt over an object made of ranged GETs through a bounded LRU
// cache of fetched pages, with counters for query statistics.
//
// What it does not own: which files go cold, the node's list of cold files
// and the colfile format (package storage and storage/colfile do). The
// format's CRCs (every block, the index and the footer carry a CRC32C) are
// what detect a corrupted byte inside a ranged read; this package detects
// short and failed reads, size mismatches, and corruption of objects it
// reads whole (see Reader).
package cold

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// Defaults for the zero values of Config. The cache's default is modest
// because the node's default soft memory limit is 384 MiB (docs/operations.md,
// "Memory"); a node with more memory sets cold.s3.cache higher.
const (
	DefaultCacheBytes  = 64 << 20
	DefaultPageSize    = 1 << 20
	DefaultPartSize    = 16 << 20
	DefaultTimeout     = 2 * time.Minute
	DefaultMaxAttempts = 4
	// MinPartSize is the smallest part S3 accepts (except a last one).
	MinPartSize = 5 << 20
	// defaultRegion is used when neither Config nor the AWS variables and
	// files name one; S3-compatible servers generally accept it.
	defaultRegion = "us-east-1"
)

// ErrNotFound is returned (wrapped; test with errors.Is) when an object or
// the bucket does not exist.
var ErrNotFound = errors.New("not found")

// Config selects the bucket and how to reach it. Empty fields fall back to
// the standard AWS sources (AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_PROFILE,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, the shared config and
// credentials files, …, through config.LoadDefaultConfig); set fields win.
type Config struct {
	// Bucket is required.
	Bucket string
	// Prefix is prepended to every key ("" or e.g. "soltix/node1"); slashes
	// at its ends are trimmed.
	Prefix string
	// Endpoint is the S3 endpoint URL (e.g. http://127.0.0.1:7070 for an
	// S3-compatible server); "" uses AWS_ENDPOINT_URL_S3 or AWS's own.
	Endpoint string
	// Region; "" uses AWS_REGION/the profile, else us-east-1.
	Region string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key)
	// instead of the host name; most S3-compatible servers need it.
	PathStyle bool
	// CacheBytes bounds the page cache; 0 means DefaultCacheBytes.
	CacheBytes int64

	// PageSize is the cache's unit: reads fetch whole aligned pages of
	// this many bytes; 0 means DefaultPageSize (1 MiB).
	PageSize int64
	// PartSize is the multipart threshold and part size; 0 means
	// DefaultPartSize (16 MiB); at least MinPartSize.
	PartSize int64
	// Timeout bounds each request to S3 including the SDK's retries;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts is how often the SDK tries a request that failed with a
	// 5xx, a throttle or a network error; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// AccessKeyID and SecretAccessKey, when both set, replace the standard
	// credential chain (for tests and harnesses; production should leave
	// them empty and use the AWS variables, files or roles).
	AccessKeyID, SecretAccessKey string
}

// Store is an open bucket. Its methods are safe for concurrent use.
type Store struct {
	client     *s3.Client
	httpClient *http.Client
	bucket     string
	prefix     string
	at         string // " (at <endpoint>)" for a non-AWS endpoint, else "", for errors
	cfg        Config

	cache *cache
	stats counters
}

// Open configures the client and checks that the bucket answers
// (HeadBucket), saying clearly when it does not.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("cold: no bucket configured")
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = DefaultCacheBytes
	}
	if cfg.CacheBytes < 0 {
		return nil, fmt.Errorf("cold: cache size %d is negative", cfg.CacheBytes)
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PageSize < 4096 || cfg.PageSize > 64<<20 {
		return nil, fmt.Errorf("cold: page size %d outside 4 KiB..64 MiB", cfg.PageSize)
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize || cfg.PartSize > 5<<30 {
		return nil, fmt.Errorf("cold: part size %d outside 5 MiB..5 GiB", cfg.PartSize)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("cold: access key id and secret access key must be set together")
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")

	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cold: aws configuration: %w", err)
	}
	// The SDK logs at debug level, e.g. each response without a checksum;
	// errors reach the caller instead.
	awsCfg.Logger = logging.Nop{}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	httpClient := newHTTPClient(awsCfg.HTTPClient)
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.PathStyle {
			o.UsePathStyle = true
		}
		o.HTTPClient = httpClient
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = cfg.MaxAttempts
			so.MaxBackoff = 5 * time.Second
			// The token bucket would turn a burst of failures on one
			// busy node into failures of unrelated requests; the
			// attempt bound and the per-request timeout suffice.
			so.RateLimiter = ratelimit.None
		})
		// This package computes and checks checksums itself: on upload it
		// sends the CRC32C it computed, and it asks for and checks the
		// object's checksum only on whole-object reads (a ranged GET has
		// none to check).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s := &Store{
		client:     client,
		httpClient: httpClient,
		bucket:     cfg.Bucket,
		prefix:     cfg.Prefix,
		cfg:        cfg,
		cache:      newCache(cfg.CacheBytes),
	}
	if ep := endpointOf(client, cfg); ep != "" {
		s.at = " (at " + ep + ")"
	}
	if err := s.Ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// endpointOf names the endpoint for messages: Config's, else the one the
// SDK resolved from the environment, else "" (AWS's).
func endpointOf(c *s3.Client, cfg Config) string {
	if cfg.Endpoint != "" {
		return cfg.Endpoint
	}
	if ep := c.Options().BaseEndpoint; ep != nil {
		return *ep
	}
	return ""
}

// newHTTPClient bounds connecting and waiting for response headers, so a
// server that accepts and then stalls fails the attempt (and the SDK
// retries) instead of holding a request until the overall timeout. It
// starts from the transport LoadDefaultConfig built, which carries
// AWS_CA_BUNDLE's certificates.
func newHTTPClient(base aws.HTTPClient) *http.Client {
	var tr *http.Transport
	if bc, ok := base.(*awshttp.BuildableClient); ok {
		tr = bc.GetTransport()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 30 * time.Second
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: tr}
}

// Ping checks that the bucket answers (HeadBucket), as Open did.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return s.bucketErr(err)
	}
	return nil
}

// bucketErr explains a failed HeadBucket.
func (s *Store) bucketErr(err error) error {
	switch statusOf(err) {
	case http.StatusNotFound:
		return fmt.Errorf("cold: bucket %s does not exist: %w", s.name(""), ErrNotFound)
	case http.StatusForbidden, http.StatusUnauthorized:
		return fmt.Errorf("cold: bucket %s: access denied (check the credentials and that they may s3:ListBucket): %w", s.name(""), err)
	}
	return fmt.Errorf("cold: bucket %s not reachable: %w", s.name(""), err)
}

// Close releases the Store's idle connections and cached pages. Readers
// of a closed Store still work (they open connections again).
func (s *Store) Close() {
	s.httpClient.CloseIdleConnections()
	s.cache.dropPrefix("")
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix without slashes at its ends ("" for none).
func (s *Store) Prefix() string { return s.prefix }

// Key returns the object key of a collection's file:
// <prefix>/<collection>/group_NNNN/<level>/<file>, without a leading slash
// when the prefix is empty.
func (s *Store) Key(collection string, group int, level, file string) string {
	return s.CollectionPrefix(collection) + fmt.Sprintf("group_%04d/%s/%s", group, level, file)
}

// CollectionPrefix returns the key prefix, ending in "/", of all of a
// collection's objects (for List and DeletePrefix).
func (s *Store) CollectionPrefix(collection string) string {
	if s.prefix == "" {
		return collection + "/"
	}
	return s.prefix + "/" + collection + "/"
}

// Object is one stored object as S3 describes it.
type Object struct {
	Key  string
	Size int64
	// Checksum is the full-object checksum S3 computed and returned, base64
	// as S3 returns it (CRC32C for objects this package uploaded; CRC32 or
	// a composite "…-N" from other writers). "" from List, and from Stat
	// and Upload on servers that keep no checksums (Upload then verified
	// the MD5 ETag instead).
	Checksum string
}

// Stat returns the object's size and checksum; an absent object is
// ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (Object, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return Object{}, s.objErr("stat", key, err)
	}
	o := Object{Key: key, Size: aws.ToInt64(out.ContentLength)}
	o.Checksum, _ = pickChecksum(out.ChecksumCRC32C, out.ChecksumCRC32)
	return o, nil
}

// Delete removes the object; an absent object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.cache.dropKey(key)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && statusOf(err) != http.StatusNotFound {
		return s.objErr("delete", key, err)
	}
	return nil
}

// List returns the objects whose keys start with prefix (a full key
// prefix, as Key and CollectionPrefix return), in key order. Their
// Checksum is "".
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	var objs []Object
	var token *string
	for {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		out, err := s.client.ListObjectsV2(rctx, &s3.ListObjectsV2Input{
			Bucket:            aws.String(s.bucket),
			Prefix:            aws.String(prefix),
			ContinuationToken: token,
		})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("cold: list %s: %w", s.name(prefix), err)
		}
		for _, o := range out.Contents {
			objs = append(objs, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return objs, nil
		}
		token = out.NextContinuationToken
	}
}

// DeletePrefix removes every object whose key starts with prefix and
// returns how many it removed. The prefix must be non-empty and, when the
// store has a prefix, lie under it, so a mistake cannot empty the bucket.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" || (s.prefix != "" && !strings.HasPrefix(prefix, s.prefix+"/")) {
		return 0, fmt.Errorf("cold: delete prefix %q: not under the store's prefix %q", prefix, s.prefix)
	}
	s.cache.dropPrefix(prefix)
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for len(objs) > 0 {
		batch := objs[:min(len(objs), 1000)]
		objs = objs[len(batch):]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, o := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(o.Key)}
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		out, err := s.client.DeleteObjects(rctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		cancel()
		if err != nil {
			return n, fmt.Errorf("cold: delete prefix %s: %w", s.name(prefix), err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return n + len(batch) - len(out.Errors), fmt.Errorf("cold: delete %s: %s: %s (%d failed)",
				s.name(aws.ToString(e.Key)), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors))
		}
		n += len(batch)
	}
	return n, nil
}

// objErr wraps an SDK error about one object, mapping 404 to ErrNotFound.
func (s *Store) objErr(op, key string, err error) error {
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("cold: %s %s: %w", op, s.name(key), ErrNotFound)
	}
	return fmt.Errorf("cold: %s %s: %w", op, s.name(key), err)
}

// name names an object (or a prefix, or with key "" the bucket) for
// messages: s3://bucket/key, and the endpoint when it is not AWS's.
func (s *Store) name(key string) string {
	return "s3://" + s.bucket + "/" + key + s.at
}

// statusOf returns the HTTP status of an SDK error, 0 when it has none.
func statusOf(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket":
			return http.StatusNotFound
		}
	}
	return 0
}

// Stats are cumulative read counters. Objects is the number of readers
// (objects opened for reading) that made at least one GET; Requests the
// GETs made (one per run of consecutive missing pages, plus the refetches
// of a short or corrupt body; the SDK's own retries of a failed request
// are not counted); BytesFetched the body bytes those GETs returned;
// CacheHits the pages served without a GET of the reader's own (cached,
// or being fetched by another reader); CacheMisses the pages the reader
// fetched.
type Stats struct {
	Objects, Requests, BytesFetched, CacheHits, CacheMisses int64
}

// counters are Stats updated atomically.
type counters struct {
	objects, requests, bytes, hits, misses atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Objects:      c.objects.Load(),
		Requests:     c.requests.Load(),
		BytesFetched: c.bytes.Load(),
		CacheHits:    c.hits.Load(),
		CacheMisses:  c.misses.Load(),
	}
}

// Stats returns the store's cumulative read counters.
func (s *Store) Stats() Stats { return s.stats.snapshot() }

// CacheBytes returns the bytes the page cache holds now.
func (s *Store) CacheBytes() int64 { return s.cache.used() }

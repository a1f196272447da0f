package cold

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"hash/crc32"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestKey: the object layout <prefix>/<collection>/group_NNNN/<level>/<file>,
// with no leading slash for an empty prefix and slashes around a prefix
// trimmed.
func TestKey(t *testing.T) {
	cfg := fakeConfig(t)
	cases := []struct {
		prefix, coll string
		group        int
		level, file  string
		want, cp     string
	}{
		{"", "cpu", 3, "raw", "000001.col", "cpu/group_0003/raw/000001.col", "cpu/"},
		{"soltix", "cpu", 12, "1h", "f", "soltix/cpu/group_0012/1h/f", "soltix/cpu/"},
		{"/a/b/", "m", 0, "raw", "f", "a/b/m/group_0000/raw/f", "a/b/m/"},
		{"p", "m", 12345, "1d", "f", "p/m/group_12345/1d/f", "p/m/"},
	}
	for _, c := range cases {
		cfg.Prefix = c.prefix
		s := openT(t, cfg)
		if got := s.Key(c.coll, c.group, c.level, c.file); got != c.want {
			t.Errorf("Key(%q, %q, %d, %q, %q) = %q, want %q", c.prefix, c.coll, c.group, c.level, c.file, got, c.want)
		}
		if got := s.CollectionPrefix(c.coll); got != c.cp || !strings.HasPrefix(c.want, got) {
			t.Errorf("CollectionPrefix(%q) with prefix %q = %q, want %q", c.coll, c.prefix, got, c.cp)
		}
	}
}

// TestUploadStatRead: objects of every size class (empty, small, exactly
// one part, multipart with a short last part, several full parts) upload,
// verify, Stat with the right size and (where the server keeps one) the
// CRC32C of the bytes, and read back equal.
func TestUploadStatRead(t *testing.T) {
	sizes := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"small", 100 << 10},
		{"one part", MinPartSize},
		{"part and a byte", MinPartSize + 1},
		{"three parts", 3 * MinPartSize},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := openT(t, srv.start(t))
			ctx := ctxT(t)
			for i, sz := range sizes {
				t.Run(sz.name, func(t *testing.T) {
					b := randBytes(int64(i), sz.size)
					key := s.Key("c", i, "raw", "f.col")
					o := upload(t, s, key, b)
					want := ""
					if srv.checksums {
						want = b64(crc32.Checksum(b, castagnoli))
					}
					if o.Key != key || o.Size != int64(sz.size) || o.Checksum != want {
						t.Fatalf("Upload = %+v, want size %d checksum %q", o, sz.size, want)
					}
					st, err := s.Stat(ctx, key)
					if err != nil || !reflect.DeepEqual(st, o) {
						t.Fatalf("Stat = %+v, %v; Upload said %+v", st, err, o)
					}
					if got := readAll(t, s, key, sz.size); !bytes.Equal(got, b) {
						t.Fatal("read back differs")
					}
				})
			}
		})
	}
}

// TestListDelete: List returns exactly the objects under a prefix, in key
// order and with their sizes; Delete removes one (and deleting it again is
// no error); DeletePrefix removes a collection's objects and no other's,
// and refuses prefixes that could reach beyond the store's.
func TestListDelete(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			cfg := srv.start(t)
			cfg.Prefix = "node1"
			s := openT(t, cfg)
			ctx := ctxT(t)
			keys := map[string][]string{}
			for _, coll := range []string{"a", "ab", "b"} {
				for g := range 3 {
					for _, lvl := range []string{"raw", "1h"} {
						k := s.Key(coll, g, lvl, "f.col")
						upload(t, s, k, randBytes(int64(len(k)), 10+g))
						keys[coll] = append(keys[coll], k)
					}
				}
			}
			objs, err := s.List(ctx, s.CollectionPrefix("a"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.Key)
				if o.Size != int64(10+int(o.Key[len("node1/a/group_000")]-'0')) {
					t.Errorf("%s: size %d", o.Key, o.Size)
				}
			}
			want := append([]string(nil), keys["a"]...)
			sortStrings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("List(a/) = %v, want %v", got, want)
			}

			if err := s.Delete(ctx, keys["a"][0]); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, keys["a"][0]); err != nil {
				t.Fatalf("deleting an absent object: %v", err)
			}
			if _, err := s.Stat(ctx, keys["a"][0]); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
			}

			n, err := s.DeletePrefix(ctx, s.CollectionPrefix("a"))
			if err != nil || n != len(keys["a"])-1 {
				t.Fatalf("DeletePrefix(a/) = %d, %v; want %d", n, err, len(keys["a"])-1)
			}
			for coll, want := range map[string]int{"a": 0, "ab": 6, "b": 6} {
				objs, err := s.List(ctx, s.CollectionPrefix(coll))
				if err != nil || len(objs) != want {
					t.Fatalf("after DeletePrefix(a/): %s has %d objects (%v), want %d", coll, len(objs), err, want)
				}
			}
			for _, bad := range []string{"", "a/", "node1", "node10/"} {
				if _, err := s.DeletePrefix(ctx, bad); err == nil {
					t.Errorf("DeletePrefix(%q) accepted", bad)
				}
			}
			if objs, _ := s.List(ctx, "node1/"); len(objs) != 12 {
				t.Fatalf("%d objects left, want 12", len(objs))
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestOpenErrors: Open says clearly what is wrong: no bucket configured, a
// bucket that does not exist (ErrNotFound), an endpoint nobody answers on,
// wrong credentials, and out-of-range settings.
func TestOpenErrors(t *testing.T) {
	srv := vgwConfig(t)
	dead := srv
	dead.Endpoint = "http://" + closedAddr(t)
	dead.MaxAttempts = 1
	dead.Timeout = 5 * time.Second
	missing := srv
	missing.Bucket = "no-such-bucket"
	badKey := srv
	badKey.SecretAccessKey = "wrong"
	cases := []struct {
		name   string
		cfg    Config
		is     error
		substr string
	}{
		{"no bucket", Config{}, nil, "no bucket configured"},
		{"missing bucket", missing, ErrNotFound, "s3://no-such-bucket/ (at http://127.0.0.1:"},
		{"nobody answers", dead, nil, "not reachable"},
		{"wrong secret", badKey, nil, "access denied"},
		{"negative cache", withCfg(srv, func(c *Config) { c.CacheBytes = -1 }), nil, "negative"},
		{"tiny part", withCfg(srv, func(c *Config) { c.PartSize = 1 << 20 }), nil, "part size"},
		{"tiny page", withCfg(srv, func(c *Config) { c.PageSize = 10 }), nil, "page size"},
		{"half credentials", withCfg(srv, func(c *Config) { c.SecretAccessKey = "" }), nil, "together"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(ctxT(t), c.cfg)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.substr) {
				t.Fatalf("Open: %v, want an error with %q", err, c.substr)
			}
		})
	}
}

func withCfg(c Config, f func(*Config)) Config {
	f(&c)
	return c
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestOpenFromEnvironment: with only the bucket and path style in Config,
// the endpoint, region and credentials come from the standard AWS
// variables, and a profile's from the shared credentials file.
func TestOpenFromEnvironment(t *testing.T) {
	base := vgwConfig(t)
	isolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", base.Endpoint)
	t.Setenv("AWS_REGION", base.Region)
	t.Run("variables", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", base.AccessKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", base.SecretAccessKey)
		s := openT(t, Config{Bucket: base.Bucket, PathStyle: true})
		upload(t, s, "env/k", []byte("hello"))
		if !strings.Contains(s.at, base.Endpoint) {
			t.Fatalf("messages name %q, not the endpoint %s", s.at, base.Endpoint)
		}
	})
	t.Run("profile", func(t *testing.T) {
		creds := filepath.Join(t.TempDir(), "credentials")
		body := "[soltix]\naws_access_key_id = " + base.AccessKeyID + "\naws_secret_access_key = " + base.SecretAccessKey + "\n"
		if err := os.WriteFile(creds, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
		t.Setenv("AWS_PROFILE", "soltix")
		s := openT(t, Config{Bucket: base.Bucket, PathStyle: true})
		if o, err := s.Stat(ctxT(t), "env/k"); err != nil || o.Size != 5 {
			t.Fatalf("Stat = %+v, %v", o, err)
		}
	})
	t.Run("explicit fields win", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_S3", "http://"+closedAddr(t))
		t.Setenv("AWS_ACCESS_KEY_ID", "nobody")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "nothing")
		openT(t, base)
	})
}

// isolateAWS keeps the machine's own AWS files, profile and instance
// metadata out of a test.
func isolateAWS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_ENDPOINT_URL":            "",
	} {
		t.Setenv(k, v)
	}
}

// TestVerifyMismatch: verification compares what the server holds with the
// local bytes: other bytes of the same size, or another size, are
// ErrMismatch, on a server with checksums (CRC32C) and on one with MD5
// ETags only.
func TestVerifyMismatch(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := openT(t, srv.start(t))
			ctx := ctxT(t)
			for _, size := range []int{1000, 2*MinPartSize + 10} {
				b := randBytes(1, size)
				key := "verify/k"
				upload(t, s, key, b)
				other := randBytes(2, size)
				sm, err := localSums(bytes.NewReader(other), int64(size), s.cfg.PartSize)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.verify(ctx, key, bytes.NewReader(other), int64(size), sm); !errors.Is(err, ErrMismatch) {
					t.Fatalf("size %d, other bytes: %v, want ErrMismatch", size, err)
				}
				short := b[:size-1]
				sm, _ = localSums(bytes.NewReader(short), int64(len(short)), s.cfg.PartSize)
				if _, err := s.verify(ctx, key, bytes.NewReader(short), int64(len(short)), sm); !errors.Is(err, ErrMismatch) {
					t.Fatalf("size %d, one byte short: %v, want ErrMismatch", size, err)
				}
				sm, _ = localSums(bytes.NewReader(b), int64(size), s.cfg.PartSize)
				if _, err := s.verify(ctx, key, bytes.NewReader(b), int64(size), sm); err != nil {
					t.Fatalf("size %d, same bytes: %v", size, err)
				}
			}
		})
	}
}

// TestVerifyComposite: an object another writer uploaded in parts with a
// composite CRC32C (checksum "…-N") verifies against the local bytes,
// and its multipart MD5 ETag does too, as versitygw computes them.
func TestVerifyComposite(t *testing.T) {
	s := openT(t, vgwConfig(t))
	ctx := ctxT(t)
	b := randBytes(3, 2*MinPartSize+123)
	key := "composite/k"
	sm, err := localSums(bytes.NewReader(b), int64(len(b)), s.cfg.PartSize)
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumType: types.ChecksumTypeComposite,
	})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, p := range sm.parts {
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: created.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b[p.off : p.off+p.size]),
			ContentLength: aws.Int64(p.size), ChecksumCRC32C: aws.String(b64(p.crc)),
		})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1)), ChecksumCRC32C: aws.String(b64(p.crc))})
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		t.Fatal(err)
	}
	o, err := s.verify(ctx, key, bytes.NewReader(b), int64(len(b)), sm)
	if err != nil {
		t.Fatal(err)
	}
	if want := compositeCRC32C(sm); o.Checksum != want || !strings.HasSuffix(want, "-3") {
		t.Fatalf("checksum %q, want %q", o.Checksum, want)
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	etag := strings.Trim(aws.ToString(head.ETag), `"`)
	want, ok, err := localMD5ETag(bytes.NewReader(b), sm, etag)
	if err != nil || !ok || want != etag {
		t.Fatalf("multipart ETag %q, local %q (%v, %v)", etag, want, ok, err)
	}
}

// TestUploadReplacesCachedPages: uploading new bytes under a key that was
// read before serves the new bytes, not cached pages of the old ones.
func TestUploadReplacesCachedPages(t *testing.T) {
	s := openT(t, fakeConfig(t))
	old, fresh := randBytes(1, 3<<20), randBytes(2, 3<<20)
	upload(t, s, "k", old)
	if !bytes.Equal(readAll(t, s, "k", len(old)), old) {
		t.Fatal("first read differs")
	}
	upload(t, s, "k", fresh)
	if !bytes.Equal(readAll(t, s, "k", len(fresh)), fresh) {
		t.Fatal("read after re-upload returns the old bytes")
	}
	if err := s.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if s.CacheBytes() != 0 {
		t.Fatalf("%d bytes cached for a deleted object", s.CacheBytes())
	}
}

// TestCABundle: an HTTPS endpoint with a private certificate authority
// works when AWS_CA_BUNDLE names it, and fails without it.
func TestCABundle(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := Config{Bucket: testBucket, Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "test", SecretAccessKey: "test", MaxAttempts: 1}
	isolateAWS(t)
	if _, err := Open(ctxT(t), cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Open without the CA: %v, want a certificate error", err)
	}
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	s := openT(t, cfg)
	upload(t, s, "tls/k", []byte("over https"))
	if got := readAll(t, s, "tls/k", 10); string(got) != "over https" {
		t.Fatalf("read %q", got)
	}
}

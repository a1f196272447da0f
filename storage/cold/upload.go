package cold

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// uploadConcurrency is how many parts of one multipart upload are in
// flight at once.
const uploadConcurrency = 4

// abortTimeout bounds the clean-up of a failed multipart upload, which
// runs even when the caller's context has ended.
const abortTimeout = 30 * time.Second

// ErrMismatch is returned (wrapped) when an uploaded object's size or
// checksum differs from the local bytes, or a whole-object read's checksum
// from the object's.
var ErrMismatch = errors.New("checksum or size mismatch")

// Upload stores size bytes of r under key: one PUT up to PartSize,
// multipart (parts of PartSize, CRC32C full-object checksum) above. Each
// request carries the CRC32C of its bytes, so S3 rejects a body damaged on
// the way. It then reads the object's size and checksum back (HEAD) and
// compares them with the local bytes; any difference is an error
// (ErrMismatch) and the object is removed. On error nothing under key
// should be taken as uploaded.
func (s *Store) Upload(ctx context.Context, key string, r io.ReaderAt, size int64) (Object, error) {
	if size < 0 {
		return Object{}, fmt.Errorf("cold: upload %s: negative size %d", s.name(key), size)
	}
	// Pages of an object the key named before are stale from now on.
	s.cache.dropKey(key)
	sums, err := localSums(r, size, s.cfg.PartSize)
	if err != nil {
		return Object{}, fmt.Errorf("cold: upload %s: read local file: %w", s.name(key), err)
	}
	if len(sums.parts) <= 1 {
		err = s.put(ctx, key, r, size, sums)
	} else {
		err = s.multipart(ctx, key, r, size, sums)
	}
	if err != nil {
		return Object{}, fmt.Errorf("cold: upload %s: %w", s.name(key), err)
	}
	obj, err := s.verify(ctx, key, r, size, sums)
	if err != nil {
		if errors.Is(err, ErrMismatch) {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			s.Delete(dctx, key) //nolint:errcheck // best effort; the error below is what counts
			cancel()
		}
		return Object{}, fmt.Errorf("cold: upload %s: %w", s.name(key), err)
	}
	return obj, nil
}

// sums are the local file's checksums: the full CRC32C and each part's.
type sums struct {
	full  uint32
	parts []partSum
}

type partSum struct {
	off, size int64
	crc       uint32
}

// localSums reads r once, computing the full CRC32C and the CRC32C of each
// part of partSize bytes (one part when size <= partSize).
func localSums(r io.ReaderAt, size, partSize int64) (sums, error) {
	var sm sums
	full := crc32.New(castagnoli)
	step := partSize
	if size <= partSize {
		step = max(size, 1) // one part, possibly empty
	}
	for off := int64(0); off == 0 || off < size; off += step {
		n := min(step, size-off)
		part := crc32.New(castagnoli)
		if err := hashSection(r, off, n, full, part); err != nil {
			return sums{}, err
		}
		sm.parts = append(sm.parts, partSum{off: off, size: n, crc: part.Sum32()})
	}
	sm.full = full.Sum32()
	return sm, nil
}

// hashSection feeds n bytes of r from off to every hash; fewer bytes than
// n is an error.
func hashSection(r io.ReaderAt, off, n int64, hs ...hash.Hash) error {
	ws := make([]io.Writer, len(hs))
	for i, h := range hs {
		ws[i] = h
	}
	got, err := io.Copy(io.MultiWriter(ws...), io.NewSectionReader(r, off, n))
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%d bytes at offset %d, want %d: %w", got, off, n, io.ErrUnexpectedEOF)
	}
	return nil
}

func b64(crc uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc)
	return base64.StdEncoding.EncodeToString(b[:])
}

// put uploads the object in one request.
func (s *Store) put(ctx context.Context, key string, r io.ReaderAt, size int64, sm sums) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         aws.String(s.bucket),
		Key:            aws.String(key),
		Body:           io.NewSectionReader(r, 0, size),
		ContentLength:  aws.Int64(size),
		ChecksumCRC32C: aws.String(b64(sm.full)),
	})
	return err
}

// multipart uploads the object in parts and completes it with the
// full-object CRC32C; on any failure it aborts the upload, so no partial
// object is ever visible.
func (s *Store) multipart(ctx context.Context, key string, r io.ReaderAt, size int64, sm sums) (err error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	created, err := s.client.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		ChecksumType:      types.ChecksumTypeFullObject,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	id := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{ //nolint:errcheck // best effort; S3 lifecycle rules clean up what is left
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: id,
		})
	}()

	done := make([]types.CompletedPart, len(sm.parts))
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failed   error // the first part's error; the others were cancelled by it
	)
	sem := make(chan struct{}, uploadConcurrency)
	for i, p := range sm.parts {
		sem <- struct{}{}
		if pctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			num := int32(i + 1)
			rctx, cancel := context.WithTimeout(pctx, s.cfg.Timeout)
			defer cancel()
			out, err := s.client.UploadPart(rctx, &s3.UploadPartInput{
				Bucket:         aws.String(s.bucket),
				Key:            aws.String(key),
				UploadId:       id,
				PartNumber:     aws.Int32(num),
				Body:           io.NewSectionReader(r, p.off, p.size),
				ContentLength:  aws.Int64(p.size),
				ChecksumCRC32C: aws.String(b64(p.crc)),
			})
			if err != nil {
				failOnce.Do(func() {
					failed = fmt.Errorf("part %d of %d: %w", num, len(sm.parts), err)
					stop()
				})
				return
			}
			done[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32C: aws.String(b64(p.crc))}
		}()
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err = s.client.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		ChecksumCRC32C:  aws.String(b64(sm.full)),
		ChecksumType:    types.ChecksumTypeFullObject,
		MpuObjectSize:   aws.Int64(size),
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// verify reads the object's size and checksum back and compares them with
// the local bytes. It accepts, in this order: a CRC32C (full object, or
// composite "…-N" over the parts), a CRC32 (computed locally on demand),
// or, from a server that keeps no checksum, an MD5 ETag (single or
// multipart form). Anything else cannot be verified and is an error.
func (s *Store) verify(ctx context.Context, key string, r io.ReaderAt, size int64, sm sums) (Object, error) {
	hctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	out, err := s.client.HeadObject(hctx, &s3.HeadObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return Object{}, fmt.Errorf("verify: %w", err)
	}
	obj := Object{Key: key, Size: aws.ToInt64(out.ContentLength)}
	if obj.Size != size {
		return Object{}, fmt.Errorf("verify: stored size %d, local %d: %w", obj.Size, size, ErrMismatch)
	}
	if c := aws.ToString(out.ChecksumCRC32C); c != "" {
		want := b64(sm.full)
		if strings.Contains(c, "-") {
			want = compositeCRC32C(sm)
		}
		if c != want {
			return Object{}, fmt.Errorf("verify: stored crc32c %s, local %s: %w", c, want, ErrMismatch)
		}
		obj.Checksum = c
		return obj, nil
	}
	if c := aws.ToString(out.ChecksumCRC32); c != "" {
		want, err := localCRC32(r, sm, strings.Contains(c, "-"))
		if err != nil {
			return Object{}, fmt.Errorf("verify: read local file: %w", err)
		}
		if c != want {
			return Object{}, fmt.Errorf("verify: stored crc32 %s, local %s: %w", c, want, ErrMismatch)
		}
		obj.Checksum = c
		return obj, nil
	}
	etag := strings.Trim(aws.ToString(out.ETag), `"`)
	want, ok, err := localMD5ETag(r, sm, etag)
	if err != nil {
		return Object{}, fmt.Errorf("verify: read local file: %w", err)
	}
	if !ok {
		return Object{}, fmt.Errorf("verify: the server returned no checksum and ETag %q is no MD5: cannot verify", etag)
	}
	if etag != want {
		return Object{}, fmt.Errorf("verify: stored ETag %s, local MD5 %s: %w", etag, want, ErrMismatch)
	}
	return obj, nil
}

// compositeCRC32C is S3's composite checksum: the CRC32C of the parts'
// big-endian CRC32Cs, base64, then "-" and the part count.
func compositeCRC32C(sm sums) string {
	h := crc32.New(castagnoli)
	for _, p := range sm.parts {
		binary.Write(h, binary.BigEndian, p.crc) //nolint:errcheck // hashes do not fail
	}
	return b64(h.Sum32()) + "-" + strconv.Itoa(len(sm.parts))
}

// localCRC32 computes the IEEE CRC32 of the file, full or composite.
func localCRC32(r io.ReaderAt, sm sums, composite bool) (string, error) {
	full, comp := crc32.NewIEEE(), crc32.NewIEEE()
	for _, p := range sm.parts {
		h := crc32.NewIEEE()
		if err := hashSection(r, p.off, p.size, full, h); err != nil {
			return "", err
		}
		binary.Write(comp, binary.BigEndian, h.Sum32()) //nolint:errcheck // hashes do not fail
	}
	if composite {
		return b64(comp.Sum32()) + "-" + strconv.Itoa(len(sm.parts)), nil
	}
	return b64(full.Sum32()), nil
}

// localMD5ETag computes the ETag S3 gives an unencrypted object: the hex
// MD5 of the bytes, or for a multipart upload the MD5 of the parts' MD5s
// followed by "-N". ok is false when etag has neither form.
func localMD5ETag(r io.ReaderAt, sm sums, etag string) (want string, ok bool, err error) {
	hexPart, count, multi := strings.Cut(etag, "-")
	if len(hexPart) != 32 {
		return "", false, nil
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", false, nil
	}
	if !multi {
		h := md5.New()
		for _, p := range sm.parts {
			if err := hashSection(r, p.off, p.size, h); err != nil {
				return "", true, err
			}
		}
		return hex.EncodeToString(h.Sum(nil)), true, nil
	}
	if _, err := strconv.Atoi(count); err != nil {
		return "", false, nil
	}
	all := md5.New()
	for _, p := range sm.parts {
		h := md5.New()
		if err := hashSection(r, p.off, p.size, h); err != nil {
			return "", true, err
		}
		all.Write(h.Sum(nil))
	}
	return hex.EncodeToString(all.Sum(nil)) + "-" + strconv.Itoa(len(sm.parts)), true, nil
}

// pickChecksum returns the first non-empty checksum.
func pickChecksum(cs ...*string) (string, bool) {
	for _, c := range cs {
		if v := aws.ToString(c); v != "" {
			return v, true
		}
	}
	return "", false
}

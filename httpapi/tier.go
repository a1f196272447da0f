package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/soltixdb/soltix/storage"
)

// Tierer is a Store with a cold tier (storage.DB): POST
// /api/v1/admin/tier runs Tier, and /metrics shows ColdStats.
type Tierer interface {
	Tier(ctx context.Context) (storage.TierStats, error)
	ColdStats() storage.ColdStats
}

// adminTier serves POST /api/v1/admin/tier: it runs the cold tier mover
// now and answers, once it is done, what it did:
//
//	{"uploaded":3,"bytes":123,"failed":0,"waiting":0,"deleted":1,"cold_files":40,"cold_bytes":5000}
//
// A run where uploads or deletes failed answers 503 with the error and the
// same counts; a node without a cold store 404.
func (s *server) adminTier(w http.ResponseWriter, r *http.Request) {
	t, ok := s.store.(Tierer)
	if !ok || !t.ColdStats().Enabled {
		writeError(w, http.StatusNotFound, "tier: this node has no cold store (cold.s3 in its configuration)")
		return
	}
	st, err := t.Tier(r.Context())
	b := appendTierStats(nil, st)
	if err != nil {
		if errors.Is(err, storage.ErrClosed) {
			writeError(w, http.StatusServiceUnavailable, "tier: "+err.Error())
			return
		}
		s.log.WarnContext(r.Context(), "tier", "err", err)
		e := append([]byte(`{"error":`), appendJSONString(nil, "tier: "+err.Error())...)
		e = append(e, `,"stats":`...)
		e = append(e, b...)
		writeJSON(w, http.StatusServiceUnavailable, append(e, "}\n"...))
		return
	}
	writeJSON(w, http.StatusOK, append(b, '\n'))
}

// ColdAdopter is a Store that can take over the cold files of a lost
// node (storage.DB.AdoptCold).
type ColdAdopter interface {
	AdoptCold(ctx context.Context, id string) (storage.AdoptStats, error)
}

// adminTierAdopt serves POST /api/v1/admin/tier/adopt?id=<16 hex digits>:
// the node takes over the cold files a node whose disk was lost left in
// the bucket, and answers
//
//	{"files":730,"bytes":2945331200,"superseded":3,"expired":0}
func (s *server) adminTierAdopt(w http.ResponseWriter, r *http.Request) {
	a, ok := s.store.(ColdAdopter)
	t, _ := s.store.(Tierer)
	if !ok || t == nil || !t.ColdStats().Enabled {
		writeError(w, http.StatusNotFound, "adopt: this node has no cold store (cold.s3 in its configuration)")
		return
	}
	st, err := a.AdoptCold(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, storage.ErrClosed) || errors.Is(err, storage.ErrColdUnreachable) {
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, err.Error())
		return
	}
	b := []byte(`{"files":`)
	b = strconv.AppendInt(b, int64(st.Files), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, st.Bytes, 10)
	b = append(b, `,"superseded":`...)
	b = strconv.AppendInt(b, int64(st.Superseded), 10)
	b = append(b, `,"expired":`...)
	b = strconv.AppendInt(b, int64(st.Expired), 10)
	writeJSON(w, http.StatusOK, append(b, "}\n"...))
}

func appendTierStats(b []byte, st storage.TierStats) []byte {
	num := func(name string, v int64) {
		b = append(b, `"`+name+`":`...)
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, '{')
	num("uploaded", int64(st.Uploaded))
	b = append(b, ',')
	num("bytes", st.Bytes)
	b = append(b, ',')
	num("failed", int64(st.Failed))
	b = append(b, ',')
	num("waiting", int64(st.Waiting))
	b = append(b, ',')
	num("deleted", int64(st.Deleted))
	b = append(b, ',')
	num("cold_files", int64(st.ColdFiles))
	b = append(b, ',')
	num("cold_bytes", st.ColdBytes)
	return append(b, '}')
}

// writeColdMetrics writes the soltix_cold_* families of a store with a
// cold tier.
func writeColdMetrics(t Tierer) func(*bytes.Buffer) {
	return func(b *bytes.Buffer) {
		st := t.ColdStats()
		if !st.Enabled {
			return
		}
		family := func(name, typ, help string, v int64) {
			b.WriteString("# HELP " + name + " " + help + "\n")
			b.WriteString("# TYPE " + name + " " + typ + "\n")
			b.WriteString(name + " " + strconv.FormatInt(v, 10) + "\n")
		}
		reachable := int64(0)
		if st.Reachable {
			reachable = 1
		}
		family("soltix_cold_reachable", "gauge", "1 once the cold store (S3) could be opened; 0 while it is not reachable (files stay local).", reachable)
		family("soltix_cold_files", "gauge", "Data files kept in the cold store (S3).", int64(st.Files))
		family("soltix_cold_bytes", "gauge", "Bytes of the data files kept in the cold store.", st.Bytes)
		family("soltix_cold_uploads_total", "counter", "Files moved to the cold store (uploaded, verified, recorded, removed locally).", st.Uploads)
		family("soltix_cold_upload_bytes_total", "counter", "Bytes of the files moved to the cold store.", st.UploadBytes)
		family("soltix_cold_upload_failures_total", "counter", "Uploads that failed; the file stayed local and is tried again.", st.UploadFailures)
		family("soltix_cold_deletes_total", "counter", "Cold objects deleted (expired, rewritten or dropped files).", st.Deletes)
		family("soltix_cold_delete_failures_total", "counter", "Deletes of cold objects that failed; tried again.", st.DeleteFailures)
		family("soltix_cold_tier_runs_total", "counter", "Runs of the cold tier mover.", st.Runs)
		family("soltix_cold_requests_total", "counter", "GET requests made to read cold files.", st.Requests)
		family("soltix_cold_fetched_bytes_total", "counter", "Bytes fetched from the cold store to read cold files.", st.BytesFetched)
		family("soltix_cold_cache_hits_total", "counter", "Reads of cold files the local cache answered, in cache pages.", st.CacheHits)
		family("soltix_cold_cache_misses_total", "counter", "Cache pages fetched from the cold store.", st.CacheMisses)
		family("soltix_cold_cache_bytes", "gauge", "Bytes the cold read cache holds.", st.CacheBytes)
	}
}

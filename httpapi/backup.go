package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/soltixdb/soltix/backup"
)

// adminBackup serves POST /api/v1/admin/backup: it snapshots the node's
// groups and answers the backup's manifest, whose id names the snapshot
// in the file and release routes.
func (s *server) adminBackup(w http.ResponseWriter, r *http.Request) {
	if s.opts.BackupProxy != nil {
		s.opts.BackupProxy.ServeHTTP(w, r)
		return
	}
	if s.opts.Backup == nil {
		writeError(w, http.StatusNotImplemented, "backup: this server takes no backups")
		return
	}
	var groups []int
	if q := r.URL.Query().Get("groups"); q != "" {
		var err error
		if groups, err = backup.ParseGroups(q, 0); err != nil {
			writeError(w, http.StatusBadRequest, "backup: "+err.Error())
			return
		}
	}
	man, err := s.opts.Backup.StartGroups(r.Context(), groups)
	if err != nil {
		code, msg := storeErrorStatus(err)
		switch {
		case errors.Is(err, backup.ErrNoGroup):
			code, msg = http.StatusBadRequest, err.Error()
		case errors.Is(err, backup.ErrNotOwner):
			code, msg = http.StatusConflict, err.Error()
		case errors.Is(err, backup.ErrBusy):
			code = http.StatusTooManyRequests
			w.Header().Set("Retry-After", "60")
		case code == http.StatusInternalServerError:
			s.log.ErrorContext(r.Context(), "backup", "err", err)
		}
		writeError(w, code, msg)
		return
	}
	b, err := json.Marshal(man)
	if err != nil {
		s.opts.Backup.Release(man.ID)
		writeError(w, http.StatusInternalServerError, "backup: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, append(b, '\n'))
}

// adminBackupFile serves GET /api/v1/admin/backup/{id}/files/{group}?path=P:
// one file of a held snapshot, as the manifest lists it.
func (s *server) adminBackupFile(w http.ResponseWriter, r *http.Request) {
	if s.opts.BackupProxy != nil {
		s.opts.BackupProxy.ServeHTTP(w, r)
		return
	}
	if s.opts.Backup == nil {
		writeError(w, http.StatusNotImplemented, "backup: this server takes no backups")
		return
	}
	g, err := strconv.Atoi(chi.URLParam(r, "group"))
	if err != nil || g < 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("backup: bad group %q", chi.URLParam(r, "group")))
		return
	}
	rc, f, err := s.opts.Backup.Open(chi.URLParam(r, "id"), g, r.URL.Query().Get("path"))
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, backup.ErrUnknown) {
			code = http.StatusNotFound
		} else {
			s.log.ErrorContext(r.Context(), "backup file", "err", err)
		}
		writeError(w, code, "backup: "+err.Error())
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	w.Header().Set("X-Soltix-CRC32C", fmt.Sprintf("%08x", f.CRC32C))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, io.LimitReader(rc, f.Size)); err != nil {
		s.log.WarnContext(r.Context(), "backup file: send", "path", f.Path, "err", err)
	}
}

// adminBackupRelease serves POST /api/v1/admin/backup/{id}/release.
func (s *server) adminBackupRelease(w http.ResponseWriter, r *http.Request) {
	if s.opts.BackupProxy != nil {
		s.opts.BackupProxy.ServeHTTP(w, r)
		return
	}
	if s.opts.Backup == nil {
		writeError(w, http.StatusNotImplemented, "backup: this server takes no backups")
		return
	}
	if err := s.opts.Backup.Release(chi.URLParam(r, "id")); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, backup.ErrUnknown) {
			code = http.StatusNotFound
		}
		writeError(w, code, "backup: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeBackupMetrics writes the soltix_backup_* families.
func (s *server) writeBackupMetrics(b *bytes.Buffer) {
	if s.opts.Backup == nil {
		return
	}
	st := s.opts.Backup.Stats()
	p := promWriter{b}
	p.one("soltix_backup_snapshots_held", "gauge", "Backup snapshots whose files are pinned now.", float64(st.Held))
	p.one("soltix_backup_started_total", "counter", "Backups begun (POST /api/v1/admin/backup).", float64(st.Started))
	p.one("soltix_backup_released_total", "counter", "Backup snapshots released by their client.", float64(st.Released))
	p.one("soltix_backup_failed_total", "counter", "Backups that failed while snapshotting.", float64(st.Failed))
	p.one("soltix_backup_expired_total", "counter", "Backup snapshots released after their idle timeout.", float64(st.Expired))
}

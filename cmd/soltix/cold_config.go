package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/cold"
)

// ColdConfig configures the cold tier: with an S3 bucket, files whose
// collection's cold_after has passed move there (storage.DB.Tier) and
// queries read them from it.
type ColdConfig struct {
	S3 ColdS3Config `yaml:"s3"`
	// Cache is the size of the read cache of fetched object pages
	// ("256MiB"); empty means the store's default.
	Cache string `yaml:"cache"`
	// TierInterval is how often the mover runs on its own (0: every 10
	// minutes).
	TierInterval Duration `yaml:"tier_interval"`
}

// ColdS3Config is the bucket and how to reach it (cold.Config); the AWS
// variables and shared files fill what is left empty.
type ColdS3Config struct {
	Bucket    string `yaml:"bucket"`
	Prefix    string `yaml:"prefix"`
	Endpoint  string `yaml:"endpoint"`
	Region    string `yaml:"region"`
	PathStyle bool   `yaml:"path_style"`
	// Cache is accepted here too (cold.cache is the documented key).
	Cache string `yaml:"cache"`
}

// enabled reports whether a cold store is configured.
func (c *ColdConfig) enabled() bool { return c.S3.Bucket != "" }

func (c *ColdConfig) validate() error {
	s := c.S3
	if s.Bucket == "" && (s.Prefix != "" || s.Endpoint != "" || s.Region != "" || s.PathStyle || s.Cache != "" || c.Cache != "") {
		return errors.New("cold: cold.s3.bucket is required when other cold settings are given")
	}
	if c.Cache != "" && s.Cache != "" && c.Cache != s.Cache {
		return fmt.Errorf("cold.cache %q and cold.s3.cache %q disagree; give one", c.Cache, s.Cache)
	}
	if _, err := c.cacheBytes(); err != nil {
		return err
	}
	if c.TierInterval < 0 {
		return fmt.Errorf("cold.tier_interval must not be negative, not %s", time.Duration(c.TierInterval))
	}
	return nil
}

// cacheBytes is the cache size asked for (0: the store's default).
func (c *ColdConfig) cacheBytes() (int64, error) {
	v := c.Cache
	if v == "" {
		v = c.S3.Cache
	}
	if v == "" {
		return 0, nil
	}
	n, err := parseSize(v)
	if err != nil {
		return 0, fmt.Errorf("cold.cache: %w", err)
	}
	if n == 0 {
		return 0, errors.New("cold.cache must be positive")
	}
	return n, nil
}

// storeConfig is the cold.Config of the configuration.
func (c *ColdConfig) storeConfig() cold.Config {
	n, _ := c.cacheBytes() // checked by validate
	return cold.Config{Bucket: c.S3.Bucket, Prefix: c.S3.Prefix, Endpoint: c.S3.Endpoint, Region: c.S3.Region,
		PathStyle: c.S3.PathStyle, CacheBytes: n}
}

// coldOpenTimeout bounds the start-up's attempt to open the cold store;
// coldRetryWait is the first wait before trying again (doubling up to
// five minutes).
var (
	coldOpenTimeout = 30 * time.Second
	coldRetryWait   = 5 * time.Second
)

// openCold sets the storage options' cold store. When the bucket does not
// answer at start-up, the node starts anyway (ColdPending: files stay
// local, reads of cold blocks fail naming the object, the error is
// logged), and the returned function, run in the background with the
// opened DB, keeps trying until the store answers and hands it over (or
// ctx ends). Without a cold store configured it returns nil.
func (c *Config) openCold(o *storage.Options, log *slog.Logger) func(ctx context.Context, db *storage.DB) {
	o.TierInterval = time.Duration(c.Cold.TierInterval)
	if !c.Cold.enabled() {
		return nil
	}
	cfg := c.Cold.storeConfig()
	ctx, cancel := context.WithTimeout(context.Background(), coldOpenTimeout)
	s, err := cold.Open(ctx, cfg)
	cancel()
	if err == nil {
		o.Cold = s
		log.Info("cold tier", "bucket", cfg.Bucket, "prefix", s.Prefix())
		return nil
	}
	log.Error("cold store not reachable; starting without it: files stay local and reads of cold files fail until it answers", "err", err)
	o.ColdPending = true
	return func(ctx context.Context, db *storage.DB) {
		wait := coldRetryWait
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			octx, cancel := context.WithTimeout(ctx, coldOpenTimeout)
			s, err := cold.Open(octx, cfg)
			cancel()
			if err == nil {
				if err := db.SetCold(s); err != nil {
					log.Error("cold store", "err", err)
				} else {
					log.Info("cold store reachable; the cold tier is on", "bucket", cfg.Bucket)
				}
				return
			}
			if ctx.Err() == nil {
				log.Warn("cold store still not reachable", "err", err)
			}
			wait = min(2*wait, 5*time.Minute)
		}
	}
}

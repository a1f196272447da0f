package main

// Authentication and TLS of the external listener (serve and router):
// the auth and tls config keys, the refusal to serve a non-loopback
// address without tokens, and the token command.

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/soltixdb/soltix/httpapi"
)

// AuthConfig configures authentication of the external API.
type AuthConfig struct {
	// Tokens are the accepted tokens; none turns authentication off.
	Tokens []TokenConfig `yaml:"tokens"`
}

// TokenConfig is one accepted token, stored as its SHA-256 digest.
type TokenConfig struct {
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 digest of the token ('soltix token hash').
	SHA256 string `yaml:"sha256"`
	// Scopes are read, write and admin (admin implies the others).
	Scopes []string `yaml:"scopes"`
	// Collections, when set, are the only collections the token may use.
	Collections []string `yaml:"collections"`
}

// TLSConfig names the certificate and key of the external listener;
// both or neither. The files are read again when they change.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// tokens returns the configured tokens for httpapi.Options.
func (a *AuthConfig) tokens() ([]httpapi.Token, error) {
	var out []httpapi.Token
	seen := map[string]bool{}
	digests := map[[sha256.Size]byte]string{}
	for i, tc := range a.Tokens {
		where := fmt.Sprintf("auth.tokens[%d]", i)
		if tc.Name == "" {
			return nil, fmt.Errorf("%s: name is required", where)
		}
		where = fmt.Sprintf("auth.tokens[%d] (%s)", i, tc.Name)
		if seen[tc.Name] {
			return nil, fmt.Errorf("%s: the name is used twice", where)
		}
		seen[tc.Name] = true
		d, err := httpapi.ParseDigest(tc.SHA256)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if other, ok := digests[d]; ok {
			return nil, fmt.Errorf("%s: same digest as %s", where, other)
		}
		digests[d] = tc.Name
		if len(tc.Scopes) == 0 {
			return nil, fmt.Errorf("%s: scopes: want one or more of read, write, admin", where)
		}
		t := httpapi.Token{Name: tc.Name, Digest: d}
		for _, s := range tc.Scopes {
			sc, err := httpapi.ParseScope(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			t.Scopes |= sc
		}
		for _, c := range tc.Collections {
			if c == "" {
				return nil, fmt.Errorf("%s: collections: empty name", where)
			}
		}
		t.Collections = tc.Collections
		out = append(out, t)
	}
	return out, nil
}

func (t *TLSConfig) validate() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("tls.cert_file and tls.key_file go together: set both or neither")
	}
	return nil
}

// serverTLS returns the TLS configuration of the external listener, nil
// when tls is not configured.
func (c *Config) serverTLS(log *slog.Logger) (*tls.Config, error) {
	if c.TLS.CertFile == "" {
		return nil, nil
	}
	rl, err := httpapi.NewCertReloader(c.TLS.CertFile, c.TLS.KeyFile, log)
	if err != nil {
		return nil, err
	}
	return rl.TLSConfig(), nil
}

// scheme is the URL scheme of the external listener.
func (c *Config) scheme() string {
	if c.TLS.CertFile != "" {
		return "https"
	}
	return "http"
}

// isLoopbackListen reports whether a listen address (host:port) only
// takes connections from this machine.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkExposure refuses to serve the API without tokens on an address
// other machines can reach, unless insecure is set, which is logged as a
// warning. The router calls it with refuse false: it only warns.
func checkExposure(c *Config, refuse bool, log *slog.Logger) error {
	if len(c.Auth.Tokens) > 0 || isLoopbackListen(c.Listen) {
		return nil
	}
	if !c.Insecure && refuse {
		return fmt.Errorf("listen %s is reachable from other machines and auth.tokens is empty: anyone could write, delete and change settings; configure tokens (docs/security.md, \"Authentication and TLS\") or pass --insecure", c.Listen)
	}
	log.Warn("INSECURE: serving the API without authentication on an address other machines can reach; anyone who reaches it can write, delete and change settings", "listen", c.Listen)
	return nil
}

const tokenIntro = `Usage: soltix token new
       soltix token hash < TOKEN

new prints a random token on the first line and its SHA-256 digest (the
sha256 of an auth.tokens entry) on the second. hash reads a token on stdin
(one trailing newline is dropped) and prints its digest, the same as
'printf %s TOKEN | sha256sum'. Keep the token secret; only the digest goes
in the config file (auth.tokens), or to a cluster's routers:
  curl -X POST ROUTER/api/v1/admin/tokens -H 'Authorization: Bearer ADMIN' \
    -d '{"name":"NAME","sha256":"DIGEST","scopes":["write"]}'
which every router accepts at once (docs/operations.md, "Tokens in the
cluster").
`

// tokenCmd serves 'soltix token new|hash'.
func tokenCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, tokenIntro, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		badUsage(stderr, "token", "want new or hash")
		return 2
	}
	switch fs.Arg(0) {
	case "new":
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			fmt.Fprintf(stderr, "soltix token: %v\n", err)
			return 1
		}
		tok := "sltx_" + base64.RawURLEncoding.EncodeToString(b)
		d := sha256.Sum256([]byte(tok))
		fmt.Fprintf(stdout, "%s\n%s\n", tok, hex.EncodeToString(d[:]))
		return 0
	case "hash":
		// A token is short: read at most 4 KiB, one line.
		line, err := bufio.NewReaderSize(io.LimitReader(stdin, 4096), 4096).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "soltix token: read stdin: %v\n", err)
			return 1
		}
		tok := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if tok == "" {
			fmt.Fprintln(stderr, "soltix token: no token on stdin")
			return 1
		}
		d := sha256.Sum256([]byte(tok))
		fmt.Fprintln(stdout, hex.EncodeToString(d[:]))
		return 0
	}
	badUsage(stderr, "token", fmt.Sprintf("unknown subcommand %q: want new or hash", fs.Arg(0)))
	return 2
}

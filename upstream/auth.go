package upstream

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

const (
	headerConnectionID = "X-ASRS-Connection-Id"
	headerHub          = "X-ASRS-Hub"
	headerCategory     = "X-ASRS-Category"
	headerEvent        = "X-ASRS-Event"
	headerUserID       = "X-ASRS-User-Id"
	headerUserClaims   = "X-ASRS-User-Claims"
	headerClientQuery  = "X-ASRS-Client-Query"
	headerSignature    = "X-ASRS-Signature"
)

// RequestHeaders returns the names of the headers of an upstream request
// that Check and ReadEvent read.
func RequestHeaders() []string {
	return []string{headerConnectionID, headerHub, headerCategory, headerEvent, headerUserID, headerUserClaims, headerClientQuery, headerSignature, "Authorization", "Authentication"}
}

// maxSignatures bounds the entries of X-ASRS-Signature: the service sends
// one per access key, two at most.
const maxSignatures = 8

// Refusal is why an upstream request was not let in. Kind groups refusals
// for the log, which says each kind once.
type Refusal struct {
	Kind   string
	Detail string
}

func (r *Refusal) Error() string { return r.Detail }

// auth decides whether an upstream request comes from the service:
// every configured check must pass, and with none configured nothing does.
type auth struct {
	// keys are the access keys' UTF-8 bytes, which sign connection ids.
	keys   [][]byte
	tokens *tokenValidator
	log    *slog.Logger
	logged sync.Map // Refusal kinds already logged
}

// check returns nil when the request may pass.
func (a *auth) check(ctx context.Context, header http.Header) *Refusal {
	if len(a.keys) == 0 && a.tokens == nil {
		return &Refusal{"unconfigured", "upstream requests are refused: nothing is configured to check them. " +
			"Set SIGNALR_UPSTREAM_AUDIENCE, SIGNALR_UPSTREAM_TENANT and SIGNALR_UPSTREAM_IDENTITY to check the service's managed identity token, " +
			"or use a connection string with an AccessKey to check X-ASRS-Signature"}
	}
	if len(a.keys) > 0 {
		if err := a.checkSignature(header); err != nil {
			return err
		}
	}
	if a.tokens != nil {
		if err := a.tokens.check(ctx, bearerToken(header)); err != nil {
			return err
		}
	}
	return nil
}

// logRefusal logs the first Refusal of each kind: a flood of forged
// requests must not flood the log.
func (a *auth) logRefusal(r *Refusal, invocationID string) {
	if _, seen := a.logged.LoadOrStore(r.Kind, true); seen {
		return
	}
	a.log.Warn("upstream request refused (401); further refusals of this kind are not logged", "reason", r.Kind, "detail", r.Detail, "invocationId", invocationID)
}

// checkSignature checks X-ASRS-Signature: sha256=<hex HMAC-SHA256 of the
// connection id>, one entry per key of the service, against every key the
// app knows.
func (a *auth) checkSignature(header http.Header) *Refusal {
	raw := header.Get(headerSignature)
	if raw == "" {
		return &Refusal{"signature missing", "the request has no " + headerSignature + " header, though the connection has an access key"}
	}
	sigs, err := parseSignatures(raw)
	if err != nil {
		return &Refusal{"signature malformed", headerSignature + ": " + err.Error()}
	}
	id := header.Get(headerConnectionID)
	match := 0
	for _, key := range a.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		want := mac.Sum(nil)
		for _, sig := range sigs {
			// hmac.Equal takes the same time wherever the bytes differ; no
			// early exit tells which key or entry matched.
			if hmac.Equal(want, sig) {
				match++
			}
		}
	}
	if match == 0 {
		return &Refusal{"signature mismatch", headerSignature + " matches no access key of the configured endpoints (a key rotated, or another resource's upstream points here)"}
	}
	return nil
}

// parseSignatures reads "sha256=<hex>, sha256=<hex>": entries trimmed,
// empty ones skipped, the prefix and hex in any case.
func parseSignatures(raw string) ([][]byte, error) {
	var sigs [][]byte
	for entry := range strings.SplitSeq(raw, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if len(sigs) == maxSignatures {
			return nil, fmt.Errorf("more than %d entries", maxSignatures)
		}
		const prefix = "sha256="
		if len(entry) < len(prefix) || !strings.EqualFold(entry[:len(prefix)], prefix) {
			return nil, errors.New("an entry does not start with sha256=")
		}
		sig, err := hex.DecodeString(entry[len(prefix):])
		if err != nil || len(sig) != sha256.Size {
			return nil, fmt.Errorf("an entry is not %d hex digits after sha256=", 2*sha256.Size)
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return nil, errors.New("no entries")
	}
	return sigs, nil
}

// bearerToken returns the token of Authorization: Bearer <token>, or of an
// Authentication header, which one page of the service's documentation
// names instead.
func bearerToken(header http.Header) string {
	for _, name := range []string{"Authorization", "Authentication"} {
		v := strings.TrimSpace(header.Get(name))
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
	}
	return ""
}

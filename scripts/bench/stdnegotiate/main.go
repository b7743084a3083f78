// Command stdnegotiate is the negotiate server a user would write instead
// of the handler, with the standard library only: net/http, encoding/json
// and an HMAC-SHA256 JWT signed by hand with an access key. It signs the
// token the handler signs (the same header and claims) and answers the same
// JSON, on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT. make bench compares the
// handler's negotiate throughput with it. It logs nothing per request.
//
// SIGNALR_ENDPOINT is the service URL the token is for.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"
)

// key stands in for the resource's access key; nobody checks this token.
var key = []byte("c3RkbGliLWJlbmNobWFyay1hY2Nlc3Mta2V5LTAwMDAwMDA=")

const kid = "stdlib-benchmark"

func main() {
	endpoint, err := url.Parse(os.Getenv("SIGNALR_ENDPOINT"))
	if err != nil || endpoint.Host == "" {
		fmt.Fprintln(os.Stderr, "stdnegotiate: set SIGNALR_ENDPOINT to the service URL")
		os.Exit(2)
	}
	http.HandleFunc("/api/negotiate", func(w http.ResponseWriter, r *http.Request) {
		hub := r.URL.Query().Get("hub")
		if hub == "" {
			hub = "chat"
		}
		aud := endpoint.Scheme + "://" + endpoint.Hostname() + "/client/?hub=" + hub
		now := time.Now()
		token, err := sign(map[string]any{
			"asrs.s.uid": r.Header.Get("x-ms-signalr-userid"),
			"aud":        aud,
			"exp":        now.Add(time.Hour).Unix(),
			"iat":        now.Unix(),
			"nbf":        now.Unix(),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{"url": endpoint.String() + "/client/?hub=" + hub, "accessToken": token})
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, "stdnegotiate:", err)
		os.Exit(1)
	}
}

func sign(claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "HS256", "kid": kid, "typ": "JWT"})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil)), nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/signalr-entra/handler/scripts/bench/stack"
)

// upstreamResource is the audience of the stand-in's upstream tokens.
const upstreamResource = "api://signalr-upstream"

// runUpstream measures a client's hub invocation answered through the
// handler's upstream function (client → service → handler, which checks
// the managed identity token → service → client) against the plain path
// an app server takes to reach the same client: negotiate through the
// handler, then a send through the handler's messages function until the
// client has it. Each worker is one client doing one round trip at a
// time, as the service posts a connection's invocations one at a time.
func runUpstream(c config, command string) error {
	root, _ := os.Getwd()
	tmp, err := os.MkdirTemp("", "bench-upstream-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	started := time.Now()
	load := stack.LoadAverage()
	log("building the handler and the stand-in ...")
	bins, err := stack.Build(root, tmp)
	if err != nil {
		return err
	}
	port, err := stack.FreePort()
	if err != nil {
		return err
	}
	rule, _ := json.Marshal(map[string]any{
		"urlTemplate": "http://127.0.0.1:" + strconv.Itoa(port) + "/api/upstream",
		"auth":        map[string]any{"type": "ManagedIdentity", "managedIdentity": map[string]string{"resource": upstreamResource}},
	})
	st, err := stack.Start(bins, stack.Options{Dir: tmp, HandlerPort: port, EmulatorArgs: []string{"-upstream", string(rule)}})
	if err != nil {
		return err
	}
	defer st.Stop()

	clients := make([]*hubClient, c.workers)
	for w := range clients {
		if clients[w], err = dialHub(st.HandlerURL, "bench-"+strconv.Itoa(w)); err != nil {
			return fmt.Errorf("client %d: %w", w, err)
		}
		defer clients[w].close()
	}
	// Warm up: the first upstream request fetches the OpenID keys.
	if err := clients[0].invoke("broadcast"); err != nil {
		return fmt.Errorf("the first invocation: %w", err)
	}

	log("upstream invocation round trip, %d clients, %s ...", c.workers, c.duration)
	invoke := roundTrips("client invoke → result (upstream)", clients, c.duration, func(hc *hubClient) error { return hc.invoke("broadcast") })
	log("negotiate, then send to the client through the handler, %d clients, %s ...", c.workers, c.duration)
	web := &http.Client{Timeout: 30 * time.Second}
	negotiateAndSend := roundTrips("negotiate + send → client has it", clients, c.duration, func(hc *hubClient) error {
		if _, err := negotiate(web, st.HandlerURL, hc.user); err != nil {
			return err
		}
		return hc.sendThroughHandler(web, st.HandlerURL)
	})
	send := roundTrips("send → client has it", clients, c.duration, func(hc *hubClient) error { return hc.sendThroughHandler(web, st.HandlerURL) })
	if err := st.Stop(); err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## Upstream round trip\n\n%s, load average %s at the start, %s.\n\n", stack.Machine(), load, started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "`%s`: the built handler and stand-in on loopback, the stand-in posting every event to the handler's upstream function with a managed identity token (checked against the stand-in's authority), %d clients, each doing one round trip at a time for %s.\n\n", command, c.workers, c.duration)
	b.WriteString("| Round trip | Round trips/s | p50 | p99 | Errors |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range []loadResult{invoke, negotiateAndSend, send} {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %d |\n", r.Name, r.RPS(), ms(r.P50), ms(r.P99), r.Errors)
	}
	fmt.Fprintf(&b, "\nAn upstream invocation takes %.2f× the p50 of negotiate + send, %.2f× that of a send alone.\n",
		float64(invoke.P50)/float64(negotiateAndSend.P50), float64(invoke.P50)/float64(send.P50))
	doc := b.String()
	fmt.Println(doc)
	for _, r := range []loadResult{invoke, negotiateAndSend, send} {
		if r.Errors > 0 {
			return fmt.Errorf("%s: %d errors, the first: %s", r.Name, r.Errors, r.FirstErr)
		}
	}
	if c.out == "" {
		return nil
	}
	return stack.WriteSection(c.out, "upstream", doc)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// roundTrips runs one loop per client for d and collects the latencies.
func roundTrips(name string, clients []*hubClient, d time.Duration, trip func(*hubClient) error) loadResult {
	var (
		mu   sync.Mutex
		res  = loadResult{Name: name, Workers: len(clients)}
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := time.Now()
	for _, hc := range clients {
		wg.Go(func() {
			for time.Since(start) < d {
				t0 := time.Now()
				err := trip(hc)
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					res.Requests++
					lats = append(lats, time.Since(t0))
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(lats)
	if n := len(lats); n > 0 {
		res.P50, res.P99 = lats[n/2], lats[min(n-1, n*99/100)]
	}
	return res
}

// hubClient is a SignalR client speaking the JSON hub protocol over a
// WebSocket, connected through the handler's negotiate.
type hubClient struct {
	user string
	ws   *websocket.Conn
	seq  int
}

type connectionInfo struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// negotiate asks the handler for the user's connection info.
func negotiate(c *http.Client, handlerURL, user string) (connectionInfo, error) {
	req, _ := http.NewRequest(http.MethodPost, handlerURL+"/api/negotiate?negotiateVersion=1", nil)
	req.Header.Set(stack.UserIDHeader, user)
	var info connectionInfo
	return info, doJSON(c, req, &info)
}

func doJSON(c *http.Client, req *http.Request, v any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}

// dialHub negotiates through the handler and at the service, as
// @microsoft/signalr does, and opens the WebSocket.
func dialHub(handlerURL, user string) (*hubClient, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	info, err := negotiate(hc, handlerURL, user)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(info.URL)
	if err != nil {
		return nil, err
	}
	neg := *u
	neg.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	q := neg.Query()
	q.Set("negotiateVersion", "1")
	neg.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodPost, neg.String(), nil)
	req.Header.Set("Authorization", "Bearer "+info.AccessToken)
	var service struct {
		ConnectionToken string `json:"connectionToken"`
	}
	if err := doJSON(hc, req, &service); err != nil {
		return nil, err
	}
	ws := *u
	ws.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	q = ws.Query()
	q.Set("id", service.ConnectionToken)
	ws.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, ws.String(), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + info.AccessToken}}})
	if err != nil {
		return nil, err
	}
	c := &hubClient{user: user, ws: conn}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")); err != nil {
		return nil, err
	}
	if _, err := c.next(func(m hubMessage) bool { return true }); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return c, nil
}

func (c *hubClient) close() { _ = c.ws.Close(websocket.StatusNormalClosure, "") }

// hubMessage is what the client reads of a message.
type hubMessage struct {
	Type         int               `json:"type"`
	InvocationID string            `json:"invocationId"`
	Target       string            `json:"target"`
	Arguments    []json.RawMessage `json:"arguments"`
	Error        string            `json:"error"`
}

// next reads records until one satisfies want.
func (c *hubClient) next(want func(hubMessage) bool) (hubMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return hubMessage{}, err
		}
		for _, rec := range bytes.Split(bytes.TrimSuffix(data, []byte{0x1e}), []byte{0x1e}) {
			var m hubMessage
			if err := json.Unmarshal(rec, &m); err != nil {
				return m, fmt.Errorf("a record that is not JSON: %q", rec)
			}
			if want(m) {
				return m, nil
			}
		}
	}
}

// invoke calls a hub method and waits for its completion.
func (c *hubClient) invoke(target string) error {
	c.seq++
	id := strconv.Itoa(c.seq)
	rec := fmt.Sprintf(`{"type":1,"invocationId":%q,"target":%q,"arguments":["hello"]}`+"\x1e", id, target)
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte(rec)); err != nil {
		return err
	}
	m, err := c.next(func(m hubMessage) bool { return m.Type == 3 && m.InvocationID == id })
	if err == nil && m.Error != "" {
		err = fmt.Errorf("invocation %s failed: %s", id, m.Error)
	}
	return err
}

// sendThroughHandler posts a message to the client's user through the
// handler's messages function and waits until the client has it.
func (c *hubClient) sendThroughHandler(hc *http.Client, handlerURL string) error {
	c.seq++
	mark := strconv.Itoa(c.seq)
	body, _ := json.Marshal(map[string]any{"userId": c.user, "target": "bench", "arguments": []string{mark}})
	req, _ := http.NewRequest(http.MethodPost, handlerURL+"/api/messages", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := doJSON(hc, req, nil); err != nil {
		return err
	}
	_, err := c.next(func(m hubMessage) bool {
		return m.Type == 1 && m.Target == "bench" && len(m.Arguments) == 1 && string(m.Arguments[0]) == strconv.Quote(mark)
	})
	return err
}

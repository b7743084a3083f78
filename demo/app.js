// The chat demo: connects a @microsoft/signalr client through the handler's
// negotiate, lists every invocation it receives, sends messages through
// the handler's messages function, and calls hub methods through the
// service, which posts them to the handler's upstream function. Everything received is shown with
// textContent: no user data ever becomes markup.
'use strict';

(() => {
  // The header the handler trusts for the user id (SIGNALR_USERID_HEADER in
  // scripts/run.sh), sent only to the handler (see HandlerHttpClient).
  const USER_ID_HEADER = 'x-ms-signalr-userid';
  const TARGET = 'newMessage';

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  // ?api= overrides the server's config.js, for a handler elsewhere.
  const api = (params.get('api') || window.DEMO_CONFIG?.api || 'http://127.0.0.1:7071/api').replace(/\/+$/, '');
  $('api').textContent = api;
  if (params.get('hub')) $('hub').value = params.get('hub');

  /** endpoint is the handler URL of a function for the hub. */
  function endpoint(path, hub) {
    const u = new URL(api + path);
    if (hub) u.searchParams.set('hub', hub);
    return u.toString();
  }

  function setState(state, detail) {
    const el = $('state');
    el.dataset.state = state.toLowerCase();
    el.textContent = detail ? `${state}: ${detail}` : state;
  }

  /**
   * refusal turns a handler's error reply into a sentence: its JSON
   * {"error": "...", "correlationId": "..."} becomes the error itself, with
   * the correlation id only where the handler's log holds more (5xx).
   */
  function refusal(what, status, body) {
    let detail = body.trim();
    try {
      const reply = JSON.parse(detail);
      if (typeof reply?.error === 'string') {
        detail = reply.error;
        if (status >= 500 && reply.correlationId) detail += ` (correlation id ${reply.correlationId} in the handler's log)`;
      }
    } catch { /* not JSON: shown as it came */ }
    return `${what} answered ${status}${detail ? `: ${detail}` : ''}`;
  }

  function span(cls, text) {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  /** show lists one invocation: newMessage(name, text) as a chat line, anything else as JSON. */
  function show(target, args) {
    const li = document.createElement('li');
    li.dataset.target = target;
    const now = new Date();
    const time = document.createElement('time');
    time.dateTime = now.toISOString();
    time.textContent = now.toLocaleTimeString();
    li.append(time);
    const strings = args.every((a) => typeof a === 'string');
    if (target.toLowerCase() === TARGET.toLowerCase() && strings && args.length === 2) {
      li.append(span('from', args[0] || 'anonymous'), span('text', args[1]));
    } else if (target.toLowerCase() === TARGET.toLowerCase() && strings && args.length === 1) {
      li.append(span('text', args[0]));
    } else {
      li.append(span('target', target), span('text json', JSON.stringify(args)));
    }
    $('messages').append(li);
    $('empty').hidden = true;
    li.scrollIntoView({ block: 'nearest' });
  }

  // The client only hands invocations to handlers registered by name, so
  // the JSON protocol is wrapped to also list those no handler takes.
  const json = new signalR.JsonHubProtocol();
  const handled = new Set([TARGET.toLowerCase()]);
  const protocol = {
    name: json.name,
    version: json.version,
    transferFormat: json.transferFormat,
    writeMessage: (message) => json.writeMessage(message),
    parseMessages(input, logger) {
      const messages = json.parseMessages(input, logger);
      for (const m of messages) {
        if (m.type === signalR.MessageType.Invocation && !handled.has(m.target.toLowerCase())) {
          show(m.target, m.arguments ?? []);
        }
      }
      return messages;
    },
  };

  const logger = {
    log(level, message) {
      // Invocations without a handler are listed on the page instead.
      if (level < signalR.LogLevel.Warning || message.startsWith('No client method with the name')) return;
      (level >= signalR.LogLevel.Error ? console.error : console.warn)(`[signalr] ${message}`);
    },
  };

  /**
   * tokenUserId returns the user id a client access token carries (the
   * service's asrs.s.uid claim), "" for none, or undefined when the token
   * cannot be read. The page only reads it, to show who the service will
   * take the connection for; the service checks the token.
   */
  function tokenUserId(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
      const uid = JSON.parse(new TextDecoder().decode(bytes))['asrs.s.uid'];
      return typeof uid === 'string' ? uid : '';
    } catch {
      return undefined;
    }
  }

  /**
   * HandlerHttpClient adds the user id header to the requests to the
   * handler only. Given in withUrl's headers, the client would also send it
   * to the service's negotiate, where it means nothing and CORS may refuse it.
   */
  class HandlerHttpClient extends signalR.HttpClient {
    constructor(userId) {
      super();
      this.userId = userId;
      this.inner = new signalR.DefaultHttpClient(logger);
      this.handler = new URL(api);
      // refused is the handler's last refusal, as a sentence.
      this.refused = null;
      // tokenUser is the user id of the last client token the handler's
      // negotiate gave (see tokenUserId); null before any.
      this.tokenUser = null;
    }

    async send(request) {
      const u = new URL(request.url);
      const toHandler = u.origin === this.handler.origin && u.pathname.startsWith(`${this.handler.pathname}/`);
      if (this.userId && toHandler) {
        request.headers = { ...request.headers, [USER_ID_HEADER]: this.userId };
      }
      try {
        const response = await this.inner.send(request);
        if (toHandler && u.pathname.endsWith('/negotiate') && response.statusCode === 200) {
          let token;
          try { token = JSON.parse(response.content).accessToken; } catch { /* not JSON */ }
          this.tokenUser = typeof token === 'string' ? tokenUserId(token) : undefined;
        }
        return response;
      } catch (err) {
        // The client's own message quotes the reply's JSON as it came, then
        // ": Status code '404'".
        if (toHandler && err instanceof signalR.HttpError) {
          const body = err.message.replace(/: Status code '\d+'$/, '');
          this.refused = refusal(`The handler's ${u.pathname.slice(this.handler.pathname.length + 1)}`, err.statusCode, body);
        }
        throw err;
      }
    }

    getCookieString(url) { return this.inner.getCookieString(url); }
  }

  let connection = null;
  // client is the HandlerHttpClient of the connection, whose tokenUser is
  // the user id the service took the connection for.
  let client = null;

  function setConnected(on) {
    $('connect').disabled = on;
    $('disconnect').disabled = !on;
    $('invoke').disabled = !on;
    $('name').disabled = on;
    $('hub').disabled = on;
  }

  async function connect(event) {
    event.preventDefault();
    if (connection) return;
    const name = $('name').value.trim();
    const hub = $('hub').value.trim();
    const httpClient = new HandlerHttpClient(name);
    const c = new signalR.HubConnectionBuilder()
      .withUrl(endpoint('', hub), {
        httpClient,
        // The handler needs no cookies.
        withCredentials: false,
      })
      .withHubProtocol(protocol)
      .withAutomaticReconnect()
      .configureLogging(logger)
      .build();
    // who says whom the service takes the connection for: the user id in
    // the token the handler gave, which is the name typed only when the
    // handler trusts the header that carries it.
    const who = () => {
      const uid = httpClient.tokenUser;
      if (uid === undefined || uid === null) return `on hub ${hub} (the client token's user id could not be read)`;
      if (uid) return `as ${uid} on hub ${hub}`;
      if (!name) return `anonymous on hub ${hub}`;
      return `anonymous on hub ${hub}: the handler did not take "${name}" as the user id `
        + `(it trusts the ${USER_ID_HEADER} header only when SIGNALR_USERID_HEADER names it)`;
    };
    c.on(TARGET, (...args) => show(TARGET, args));
    c.onreconnecting((err) => setState('Reconnecting', err?.message));
    c.onreconnected(() => setState('Connected', who()));
    c.onclose((err) => {
      if (connection !== c) return;
      connection = null;
      setConnected(false);
      setState('Disconnected', err?.message);
    });
    connection = c;
    client = httpClient;
    setConnected(true);
    setState('Connecting', `as ${name || 'anonymous'} on hub ${hub}`);
    try {
      await c.start();
      setState('Connected', who());
    } catch (err) {
      if (connection === c) {
        connection = null;
        setConnected(false);
      }
      setState('Failed', httpClient.refused ?? err.message);
    }
  }

  async function disconnect() {
    const c = connection;
    if (c) await c.stop();
  }

  async function send(event) {
    event.preventDefault();
    const text = $('text').value;
    const to = $('to').value.trim();
    // Labelled with the user id the client token carries, not the name
    // typed: the handler may not have taken that as the user id.
    const from = connection && typeof client?.tokenUser === 'string' && client.tokenUser;
    const message = { target: TARGET, arguments: [from || 'anonymous', text] };
    if (to) message.userId = to;
    const status = $('send-state');
    status.textContent = 'Sending…';
    try {
      const r = await fetch(endpoint('/messages', $('hub').value.trim()), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message),
      });
      if (r.ok) {
        status.textContent = to ? `Sent to ${to}.` : 'Sent to everyone.';
        $('text').value = '';
        return;
      }
      status.textContent = `Not sent: ${refusal("the handler's messages", r.status, await r.text())}`;
    } catch (err) {
      status.textContent = `Not sent: ${err.message}`;
    }
  }

  /** invoke calls a hub method through the service and shows what comes back. */
  async function invoke(event) {
    event.preventDefault();
    const status = $('invoke-state');
    const c = connection;
    if (!c) return;
    const method = $('method').value.trim();
    let args;
    try {
      args = JSON.parse($('args').value.trim() || '[]');
      if (!Array.isArray(args)) throw new Error('it is not an array');
    } catch (err) {
      status.textContent = `The arguments are not a JSON array: ${err.message}`;
      return;
    }
    status.textContent = 'Invoking…';
    $('invoke-note').hidden = true;
    try {
      const result = await c.invoke(method, ...args);
      const none = result === undefined || result === null;
      status.textContent = none ? `${method} completed with no result.` : `${method} returned ${JSON.stringify(result)}`;
      // Says why nothing else happened when the handler executable took it.
      $('invoke-note').hidden = !none;
    } catch (err) {
      status.textContent = `${method} failed: ${err.message}`;
    }
  }

  $('connect-form').addEventListener('submit', connect);
  $('invoke-form').addEventListener('submit', invoke);
  $('disconnect').addEventListener('click', disconnect);
  $('send-form').addEventListener('submit', send);
})();

// The gateway connection (docs/protocol.md) with ?encoding=json: HELLO,
// IDENTIFY or RESUME, heartbeats, and reconnecting with a randomised growing
// back-off. Everything it receives is handed on as events; it keeps no chat
// state of its own besides what RESUME needs (session id and last sequence).

const OP = {
  DISPATCH: 0, HEARTBEAT: 1, IDENTIFY: 2, PRESENCE_UPDATE: 3, RESUME: 6, RECONNECT: 7,
  REQUEST_GUILD_MEMBERS: 8, INVALID_SESSION: 9, HELLO: 10, HEARTBEAT_ACK: 11,
  SEND_MESSAGE: 40, ACK: 41, TYPING: 42, ERROR: 43,
};
export { OP };

// Close codes after which reconnecting with this token cannot succeed.
const FATAL = new Set([4004, 4012, 4022, 4023]);
// Codes whose session cannot be resumed: identify again.
const SESSION_ENDED = new Set([4000, 4003, 4024]);

/**
 * Events: 'status' ({status: 'connecting'|'connected'|'reconnecting'|'closed'}),
 * 'dispatch' ({t, d, replay}), 'ack' (d), 'cmd-error' (d),
 * 'fatal' ({code}), 'invalidated' (a RESUME was refused; a new session follows).
 */
export class Gateway extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.ws = null;
    this.sessionId = null;
    this.seq = 0;
    this.attempt = 0;
    this.status = 'closed';
    this.stopped = false;
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
    this.acked = true;
    this.resuming = false;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.emit('status', { status });
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.reconnectTimer);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/gateway?v=1&encoding=json`);
    this.ws = ws;
    if (this.status !== 'reconnecting') this.setStatus('connecting');
    ws.onmessage = (ev) => this.onFrame(ws, ev.data);
    ws.onclose = (ev) => this.onClose(ws, ev.code);
  }

  onFrame(ws, text) {
    if (ws !== this.ws) return;
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    switch (f.op) {
      case OP.HELLO:
        this.startHeartbeat(f.d?.heartbeat_interval || 41250);
        if (this.sessionId) {
          this.resuming = true;
          this.send(OP.RESUME, { token: this.token, session_id: this.sessionId, seq: this.seq });
        } else {
          this.identify();
        }
        break;
      case OP.HEARTBEAT_ACK:
        this.acked = true;
        break;
      case OP.DISPATCH:
        if (typeof f.s === 'number') this.seq = f.s;
        if (f.t === 'READY') {
          this.sessionId = f.d.session_id;
          this.resuming = false;
          this.connected();
        }
        this.emit('dispatch', { t: f.t, d: f.d, replay: this.resuming && f.t !== 'RESUMED' });
        if (f.t === 'RESUMED') {
          this.resuming = false;
          this.connected();
        }
        break;
      case OP.INVALID_SESSION:
        // The session is gone (grace period over, server restarted): start a
        // new one on this connection; the app refills gaps from history.
        this.sessionId = null;
        this.seq = 0;
        this.resuming = false;
        this.emit('invalidated', {});
        this.identify();
        break;
      case OP.ACK:
        this.emit('ack', f.d);
        break;
      case OP.ERROR:
        this.emit('cmd-error', f.d);
        break;
      case OP.RECONNECT:
        // The server is restarting; the close (4024) that follows reconnects.
        break;
      default:
        break;
    }
  }

  identify() {
    this.send(OP.IDENTIFY, { token: this.token, presence: 'online' });
  }

  connected() {
    this.attempt = 0;
    this.setStatus('connected');
  }

  startHeartbeat(interval) {
    clearInterval(this.heartbeatTimer);
    this.acked = true;
    const beat = () => {
      if (!this.acked) {
        // No HEARTBEAT_ACK for a whole interval: the connection is dead.
        // 4000 (not 1000/1001) keeps the server-side session resumable.
        this.ws?.close(4000, 'heartbeat timeout');
        return;
      }
      this.acked = false;
      this.send(OP.HEARTBEAT, this.seq || null);
    };
    this.heartbeatTimer = setInterval(beat, interval);
  }

  onClose(ws, code) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeatTimer);
    this.ws = null;
    if (this.stopped) return;
    if (FATAL.has(code)) {
      this.stopped = true;
      this.setStatus('closed');
      this.emit('fatal', { code });
      return;
    }
    if (SESSION_ENDED.has(code)) {
      this.sessionId = null;
      this.seq = 0;
    }
    this.setStatus('reconnecting');
    const base = Math.min(500 * 2 ** this.attempt, 15000);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), base * (0.5 + Math.random()));
  }

  /** Send a command; false if there is no open connection. */
  send(op, d) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ op, d }));
    return true;
  }

  /** Whether commands other than RESUME/IDENTIFY may be sent now. */
  get ready() {
    return this.status === 'connected' && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Close for good (logout): 1000 ends the session on the server at once. */
  stop() {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    this.ws?.close(1000, 'logout');
    this.ws = null;
    this.setStatus('closed');
  }
}

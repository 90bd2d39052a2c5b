// Socket.IO room broadcast server: the "real-time chat in Node" reference that
// hearth-loadtest compares Hearth with (docs/benchmarks.md).
//
// Configured as Socket.IO's performance-tuning guide recommends: WebSocket
// transport only, no per-message deflate (the default), the native ws
// add-ons bufferutil and utf-8-validate installed, and the initial HTTP
// request discarded to save memory. Every client except those connecting
// with ?role=sender joins one room; each "msg" event is broadcast to the
// room. Nothing is stored.
//
//   node server.js [PORT]        (see start.sh: pinned to core 0)
"use strict";

const { createServer } = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || process.env.PORT || 3000);
const ROOM = "bench";

const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  perMessageDeflate: false,
  serveClient: false,
  maxHttpBufferSize: 1e6,
});

// Performance tuning: the initial request object is not needed afterwards.
io.engine.on("connection", (rawSocket) => {
  rawSocket.request = null;
});

io.on("connection", (socket) => {
  if (socket.handshake.query.role !== "sender") {
    socket.join(ROOM);
  }
  socket.on("msg", (content) => {
    io.to(ROOM).emit("msg", content);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${port}`);
});

/* Test your agent, relay mode: the phone talks to dashboard.consumers.TestPhoneConsumer over a
   WebSocket, which calls the agent as Twilio's ConversationRelay does. The reply is written into
   its bubble token by token as it streams, and each turn shows its time to first word.
   Loaded only on the simulator page of a relay-mode agent; no inline script (CSP). */
(function () {
  "use strict";

  var phone = document.querySelector("[data-relay-phone]");
  if (!phone || !("WebSocket" in window)) return;  // without sockets the dial form posts to the webhook path

  var el = function (name) { return phone.querySelector("[data-relay-" + name + "]"); };
  var transcript = el("transcript"), idle = el("idle"), sayForm = el("say"), controls = el("controls");
  var errorBox = el("error"), ended = el("ended"), status = el("status");
  var interruptButton = el("interrupt");
  var input = sayForm.querySelector("[data-say-input]");
  var agentName = phone.querySelector(".phone-title").textContent.trim();
  var socket = null;
  var reply = null;  // the agent turn being streamed: {bubble, meta}
  var muted = false;  // barged in: the rest of that reply, still in flight, is not shown

  function badge(text, tone) {
    status.textContent = "";
    if (tone === "live") {
      var dot = document.createElement("span");
      dot.className = "live-dot";
      dot.setAttribute("aria-hidden", "true");
      status.appendChild(dot);
    }
    var label = document.createElement("span");
    label.className = "badge " + (tone === "live" ? "badge--green" : "badge--gray");
    label.textContent = text;
    status.appendChild(label);
  }

  function addTurn(speaker, text) {
    var item = document.createElement("li");
    item.className = "turn turn--" + speaker;
    item.setAttribute("data-turn", "");
    item.setAttribute("data-speaker", speaker);
    var who = document.createElement("div");
    who.className = "turn-who";
    who.textContent = speaker === "agent" ? agentName : speaker === "caller" ? "You" : "System";
    var bubble = document.createElement("div");
    bubble.className = "turn-bubble";
    bubble.textContent = text;
    var meta = document.createElement("div");
    meta.className = "turn-meta";
    item.appendChild(who);
    item.appendChild(bubble);
    item.appendChild(meta);
    transcript.appendChild(item);
    transcript.scrollTop = transcript.scrollHeight;
    return { item: item, bubble: bubble, meta: meta };
  }

  function chip(meta, text, title, name) {
    var span = document.createElement("span");
    span.className = "chip chip--plain";
    span.title = title;
    span.textContent = text;
    if (name) span.setAttribute(name, "");
    meta.appendChild(span);
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function speak(text) {
    var on = false;
    try { on = window.localStorage.getItem("salesagents.speakReplies") === "1"; } catch (e) { /* private mode */ }
    if (on && text && "speechSynthesis" in window) window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
  }

  function finishReply() {
    if (reply) speak(reply.bubble.textContent.trim());
    reply = null;
    interruptButton.disabled = true;
  }

  function handle(message) {
    switch (message.type) {
      case "call":
        idle.hidden = true;
        transcript.hidden = false;
        sayForm.hidden = false;
        controls.hidden = false;
        el("call-link").href = message.callUrl;
        badge("In progress", "live");
        (message.said || []).forEach(function (line) { if (line) { addTurn("agent", line); speak(line); } });
        input.focus();
        break;
      case "first_word":
        muted = false;
        if (!reply) reply = addTurn("agent", "");
        chip(reply.meta, message.ms + " ms to first word", "From the end of your words to the agent's first word", "data-first-word");
        break;
      case "token":
        if (!reply && muted) break;
        if (!reply) reply = addTurn("agent", "");
        reply.bubble.textContent += message.token;
        transcript.scrollTop = transcript.scrollHeight;
        break;
      case "turn_end":
        if (message.interrupted) {
          muted = true;
          if (reply) chip(reply.meta, "interrupted", "You barged in: the agent stopped here");
        }
        finishReply();
        break;
      case "ended":
        finishReply();
        sayForm.hidden = true;
        controls.hidden = true;
        ended.hidden = false;
        el("ended-reason").textContent = message.transferredTo ? "· transferred to " + message.transferredTo : "";
        badge("Ended");
        if (socket) socket.close();
        break;
      case "error":
        showError(message.message);
        break;
    }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  el("dial").addEventListener("submit", function (event) {
    event.preventDefault();
    showError("");
    var from = el("dial").querySelector("input[name=from_number]").value;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + phone.getAttribute("data-socket-path"));
    socket.addEventListener("open", function () { send({ type: "dial", from: from }); });
    socket.addEventListener("message", function (event) { handle(JSON.parse(event.data)); });
    socket.addEventListener("close", function () {
      if (ended.hidden && !transcript.hidden) handle({ type: "ended" });
      else if (transcript.hidden) showError("The phone could not connect. Reload the page and try again.");
    });
  });

  sayForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (reply) send({ type: "interrupt" });  // talking over the agent is a barge-in, as on a real line
    finishReply();
    addTurn("caller", text);
    input.value = "";
    interruptButton.disabled = false;
    send({ type: "say", text: text });
  });

  interruptButton.addEventListener("click", function () { send({ type: "interrupt" }); });
  el("hangup").addEventListener("click", function () { send({ type: "hangup" }); });
})();

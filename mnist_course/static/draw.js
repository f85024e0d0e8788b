// The drawing page of `mnist-course serve` (mnist_course/serve.py).
// Pointer events draw on the canvas with a mouse, a finger or a pen; while you
// draw, the canvas is sent as a PNG to POST /predict, one request at a time
// (the newest drawing is sent as soon as the previous answer is back), and the
// answer is shown: the digit, its confidence, ten bars and the 28 x 28 image
// the model was given.
"use strict";

const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const seen = document.getElementById("prepared").getContext("2d");
const els = Object.fromEntries(["model", "digit", "confidence", "message", "bars", "clear", "upload", "pen", "pen-width"].map((id) => [id, document.getElementById(id)]));
// The pen's width in canvas pixels of 280; 20 is about 2 pixels of 28, MNIST's stroke. The slider changes it
// for the strokes that follow (prepare_image scales the digit, so a thin or a thick pen both read).
let penWidth = Number(els.pen.value) || 20;
const NOT_SURE = 0.9; // lesson 7, "Not sure, or not a digit": below this the answer is a guess
let maxUploadBytes = 10 * 1024 * 1024;
let drawn = false; // anything on the canvas to read
let busy = false; // a request in flight
let again = false; // the drawing changed while it was in flight
const strokes = new Map(); // pointerId -> last point, so two fingers draw two lines
let generation = 0; // bumped by Clear and by an upload: an answer for an older picture is not shown

for (let k = 0; k < 10; k++) {
  els.bars.insertAdjacentHTML("beforeend", `<li data-digit="${k}"><span>${k}</span><span class="track"><span class="fill"></span></span><span class="value"></span></li>`);
}

function say(text, problem = false) {
  els.message.textContent = text;
  els.message.classList.toggle("problem", problem);
}

function forget() {
  els.digit.textContent = "?";
  els.confidence.innerHTML = "&nbsp;";
  for (const li of els.bars.children) {
    li.classList.remove("top");
    li.querySelector(".fill").style.width = "0";
    li.querySelector(".value").textContent = "";
  }
  seen.fillStyle = "#000";
  seen.fillRect(0, 0, 28, 28);
}

function clearPad() {
  generation += 1;
  again = false;
  ink.fillStyle = "#fff"; // white paper, so the PNG is dark ink on light paper as prepare_image expects
  ink.fillRect(0, 0, pad.width, pad.height);
  drawn = false;
  strokes.clear();
  forget();
  say("Draw a digit first.");
}

function show(answer) {
  els.digit.textContent = String(answer.digit);
  els.confidence.textContent = `${(answer.confidence * 100).toFixed(1)}% sure`;
  answer.probabilities.forEach((p, k) => {
    const li = els.bars.children[k];
    li.classList.toggle("top", k === answer.digit);
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".value").textContent = `${(p * 100).toFixed(1)}%`;
  });
  const picture = seen.createImageData(28, 28);
  answer.prepared.flat().forEach((v, i) => {
    const level = Math.round(v * 255);
    picture.data.set([level, level, level, 255], i * 4);
  });
  seen.putImageData(picture, 0, 0);
  const read = `Read in ${answer.milliseconds} ms.`;
  say(answer.confidence < NOT_SURE ? `Not sure: under lesson 7's 90% threshold, so look at the longest bars. ${read}` : read);
}

async function ask(picture, asked = generation) {
  busy = true;
  document.body.dataset.busy = "1";
  try {
    // An image's own type, else plain bytes: the server then says whether the file is a picture at all.
    const type = picture.type && picture.type.startsWith("image/") ? picture.type : "application/octet-stream";
    const response = await fetch("/predict", { method: "POST", body: picture, headers: { "Content-Type": type } });
    const answer = await response.json().catch(() => ({ error: `The server answered ${response.status} without an explanation.` }));
    if (asked !== generation) return; // cleared, or another picture chosen, while this one was read
    if (response.ok) show(answer);
    else {
      forget();
      say(answer.error, true);
    }
  } catch (error) {
    if (asked !== generation) return;
    forget();
    say(`The server did not answer (${error.message}): is mnist-course serve still running?`, true);
  } finally {
    busy = false;
    document.body.dataset.busy = "";
    document.body.dataset.answers = String(Number(document.body.dataset.answers) + 1);
    if (again) {
      again = false;
      read();
    }
  }
}

function read() {
  if (!drawn) {
    forget();
    say("Draw a digit first.");
    return;
  }
  if (busy) {
    again = true;
    return;
  }
  busy = true; // reserved until the PNG is ready, so two reads never overlap
  const asked = generation; // the drawing as it is now, even if Clear comes before the PNG is ready
  pad.toBlob((png) => ask(png, asked), "image/png");
}

function at(event) {
  const box = pad.getBoundingClientRect();
  return { x: ((event.clientX - box.left) * pad.width) / box.width, y: ((event.clientY - box.top) * pad.height) / box.height };
}

function width(pressure) {
  // A pen that reports pressure draws a little thinner when pressed lightly; mouse and touch report 0.5.
  return penWidth * (0.7 + 0.6 * (pressure || 0.5));
}

function dot(at, pressure) {
  ink.fillStyle = "#000";
  ink.beginPath();
  ink.arc(at.x, at.y, width(pressure) / 2, 0, 2 * Math.PI);
  ink.fill();
}

function line(from, to, pressure) {
  ink.lineWidth = width(pressure);
  ink.lineCap = "round";
  ink.lineJoin = "round";
  ink.strokeStyle = "#000";
  ink.beginPath();
  ink.moveTo(from.x, from.y);
  ink.lineTo(to.x, to.y);
  ink.stroke();
}

pad.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  pad.setPointerCapture(event.pointerId);
  const point = at(event);
  strokes.set(event.pointerId, point);
  dot(point, event.pressure);
  drawn = true;
  read();
  event.preventDefault();
});

pad.addEventListener("pointermove", (event) => {
  const last = strokes.get(event.pointerId);
  if (!last) return;
  // Coalesced events keep a fast stroke smooth where the browser merged them.
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  let from = last;
  for (const move of moves.length ? moves : [event]) {
    const to = at(move);
    line(from, to, move.pressure);
    from = to;
  }
  strokes.set(event.pointerId, from);
  read();
});

for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (event) => {
    if (!strokes.delete(event.pointerId)) return;
    read(); // the finished stroke, even if the last move was still in flight
  });
}

els.clear.addEventListener("click", clearPad);

els.pen.addEventListener("input", () => {
  penWidth = Number(els.pen.value);
  els["pen-width"].textContent = els.pen.value;
});

els.upload.addEventListener("change", async () => {
  const file = els.upload.files[0];
  els.upload.value = ""; // choosing the same file again reads it again
  if (!file) return;
  if (file.size > maxUploadBytes) {
    generation += 1; // an answer still on its way for the drawing must not cover the refusal
    again = false;
    forget();
    say(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; the page reads pictures up to ${maxUploadBytes / 2 ** 20} MB. Crop it, or save it as JPEG.`, true);
    return;
  }
  clearPad();
  const mine = generation; // a Clear or another upload from here on makes this one stale
  say(`Reading ${file.name}…`);
  try {
    // Show the picture in the box, fitted; what is read is the file itself, at full size.
    const bitmap = await createImageBitmap(file);
    if (generation !== mine) return;
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale, h = bitmap.height * scale;
    ink.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } catch {
    // The browser cannot show it either: the server's answer says what is wrong with it.
  }
  while (busy) await new Promise((done) => setTimeout(done, 20));
  if (generation !== mine) return;
  again = false; // an earlier drawing's answer must not follow the picture's
  drawn = true; // drawing over the picture reads the box, picture and strokes, from then on
  ask(file, mine);
});

async function describeModel() {
  try {
    const info = await (await fetch("/model")).json();
    maxUploadBytes = info.max_upload_bytes || maxUploadBytes;
    if (!info.loaded) {
      els.model.classList.add("missing");
      els.model.textContent = `${info.problem} Then reload this page.`;
      return;
    }
    const record = info.record;
    const accuracy = record && record.test_accuracy !== undefined
      ? `${(record.test_accuracy * 100).toFixed(2)}% on ${record.test_images ? record.test_images.toLocaleString("en") : "the"} test images (${record.data}, ${record.epochs} epochs, seed ${record.seed})`
      : "test accuracy unknown (no training record beside it)";
    els.model.textContent = `Model: ${info.path}, ${info.name}, ${info.params.toLocaleString("en")} parameters, ${accuracy}. Images prepared by ${info.prepare_image}.`;
  } catch (error) {
    els.model.textContent = `Could not ask the server about its model (${error.message}).`;
  }
}

clearPad();
describeModel();

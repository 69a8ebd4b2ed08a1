// Internal: the self-contained page served at `/` (no CDN, no external file): drop or pick
// images, see each one's labels and probabilities. `/?sample=<url>` fetches that image and posts
// it at once (the headless-browser test drives the page this way).

/** The page's HTML, naming the model and its classes in the header. */
export function pageHtml(title: string, classes: number): string {
  const escaped = title.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>denovision · ${escaped}</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  .sub { color: #666; margin-top: 0; }
  #drop { display: block; margin: 1rem 0; border: 2px dashed #999; border-radius: 10px; padding: 2rem; text-align: center; cursor: pointer; }
  #drop.over { border-color: #2a7; background: #f2fbf6; }
  .card { display: flex; gap: 1rem; margin: 1rem 0; align-items: flex-start; }
  .card img { width: 128px; height: 128px; object-fit: cover; border-radius: 6px; background: #eee; }
  .card ol { list-style: none; padding: 0; margin: 0; flex: 1; }
  .card li { margin: .2rem 0; }
  .bar { height: 6px; background: #2a7; border-radius: 3px; }
  .error { color: #b22; }
  .name { color: #666; font-size: .85rem; }
</style>
</head>
<body>
<h1>denovision · ${escaped}</h1>
<p class="sub">${classes} classes · POST an image to <code>/predict</code> or drop one below</p>
<label id="drop">Drop JPEG or PNG images here, or click to pick them
  <input id="pick" type="file" accept="image/jpeg,image/png" multiple hidden>
</label>
<div id="results"></div>
<script>
"use strict";
const results = document.getElementById("results");
const drop = document.getElementById("drop");
const pick = document.getElementById("pick");
const pct = (p) => (p * 100).toFixed(1) + "%";

function card(file) {
  const div = document.createElement("div");
  div.className = "card";
  const img = document.createElement("img");
  img.alt = file.name || "upload";
  img.src = URL.createObjectURL(file);
  const list = document.createElement("ol");
  list.innerHTML = "<li>classifying…</li>";
  div.append(img, list);
  results.prepend(div);
  return list;
}

async function classify(file) {
  const list = card(file);
  try {
    const response = await fetch("/predict?topk=5", {
      method: "POST",
      headers: { "content-type": file.type || "application/octet-stream" },
      body: file,
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    const top = body.predictions[0].top;
    list.innerHTML = "";
    for (const { label, probability } of top) {
      const li = document.createElement("li");
      li.className = "label";
      li.dataset.label = label;
      li.textContent = label + " " + pct(probability);
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = pct(probability);
      li.append(bar);
      list.append(li);
    }
    const name = document.createElement("li");
    name.className = "name";
    name.textContent = (file.name || "image") + " · " + body.ms.toFixed(0) + " ms";
    list.append(name);
    document.body.dataset.state = "done";
  } catch (error) {
    list.innerHTML = "";
    const li = document.createElement("li");
    li.className = "error";
    li.textContent = String(error.message || error);
    list.append(li);
    document.body.dataset.state = "error";
  }
}

const run = (files) => { for (const file of files) classify(file); };
pick.addEventListener("change", () => run(pick.files));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  run(e.dataTransfer.files);
});

const sample = new URLSearchParams(location.search).get("sample");
if (sample) {
  fetch(sample)
    .then((r) => r.blob())
    .then((blob) => classify(new File([blob], sample.split("/").pop() || "sample", { type: blob.type })))
    .catch((error) => { results.textContent = "sample: " + error; document.body.dataset.state = "error"; });
}
</script>
</body>
</html>
`;
}

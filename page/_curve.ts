/// <reference lib="dom" />
// Internal: the page's live training curve on a canvas: the epoch's running mean loss after
// every step (left axis) and the validation accuracy after each epoch (right axis, 0–100%).

const PAD = { left: 48, right: 48, top: 12, bottom: 24 };

/** Draws `losses` (one per step) and `valAccuracy` (one per epoch) on `canvas`. */
export function drawCurve(
  canvas: HTMLCanvasElement,
  losses: readonly number[],
  valAccuracy: readonly number[],
  stepsPerEpoch: number,
): void {
  const g = canvas.getContext("2d");
  if (g === null) return;
  const { width, height } = canvas;
  const w = width - PAD.left - PAD.right;
  const h = height - PAD.top - PAD.bottom;
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = "#ccc";
  g.strokeRect(PAD.left, PAD.top, w, h);
  if (losses.length === 0) return;
  const steps = Math.max(losses.length, stepsPerEpoch);
  const top = Math.max(...losses.filter(Number.isFinite), 1e-6);
  const x = (step: number) => PAD.left + (w * step) / Math.max(1, steps - 1);
  g.fillStyle = "#555";
  g.fillText(top.toFixed(2), 4, PAD.top + 8);
  g.fillText("0", 4, PAD.top + h);
  g.fillText("loss", 4, PAD.top + h / 2);
  g.fillText(`${losses.length} steps`, PAD.left + w / 2 - 20, height - 6);
  g.strokeStyle = "#1a73e8";
  g.beginPath();
  losses.forEach((loss, i) => {
    const y = PAD.top + h * (1 - loss / top);
    if (i === 0) g.moveTo(x(i), y);
    else g.lineTo(x(i), y);
  });
  g.stroke();
  if (valAccuracy.length === 0) return;
  g.fillStyle = "#188038";
  g.fillText("100%", width - PAD.right + 4, PAD.top + 8);
  g.fillText("val acc", width - PAD.right + 4, PAD.top + h / 2);
  valAccuracy.forEach((accuracy, epoch) => {
    const px = x(Math.min(steps - 1, (epoch + 1) * stepsPerEpoch - 1));
    const py = PAD.top + h * (1 - accuracy);
    g.beginPath();
    g.arc(px, py, 3.5, 0, 2 * Math.PI);
    g.fill();
  });
}

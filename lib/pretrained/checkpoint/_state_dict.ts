/**
 * Finding the model's state dict in what a torch.save pickle held: the object itself, or the
 * one a whole training checkpoint keeps under a conventional key; DataParallel's `module.`
 * prefix removed.
 *
 * @module
 */
import { describeValue, fail } from "./_common.ts";
import { RebuiltTensor } from "./_torch_pickle.ts";
import type { StateDict } from "./types.ts";

/** Keys a whole checkpoint keeps the model's weights under, most conventional first. */
export const STATE_DICT_KEYS: readonly string[] = [
  "state_dict",
  "model_state_dict",
  "model",
  "net",
  "module",
];

/**
 * Whether `value` is a dict holding at least one tensor and, besides tensors, only plain
 * scalars (which a state dict may carry and the reader skips), never a nested container: so an
 * optimizer's state dict (`state`, `param_groups`) or a whole checkpoint is not one.
 */
function isTensorDict(value: unknown): value is Map<unknown, unknown> {
  if (!(value instanceof Map)) return false;
  let tensors = 0;
  for (const item of value.values()) {
    if (item instanceof RebuiltTensor) tensors++;
    else if (item !== null && (typeof item === "object" || typeof item === "function")) {
      return false;
    }
  }
  return tensors > 0;
}

function toStateDict(dict: Map<unknown, unknown>): StateDict {
  const out: StateDict = new Map();
  for (const [key, value] of dict) {
    if (typeof key !== "string" || !(value instanceof RebuiltTensor)) continue;
    out.set(key, { dtype: value.dtype, shape: [...value.shape], data: value.data });
  }
  return out;
}

/**
 * `dict` with a leading `module.` removed from every key, when every key has one (a state dict
 * saved from `nn.DataParallel`); otherwise `dict` itself.
 */
export function stripModulePrefix(dict: StateDict): StateDict {
  const keys = [...dict.keys()];
  if (keys.length === 0 || !keys.every((key) => key.startsWith("module."))) return dict;
  return new Map([...dict].map(([key, tensor]) => [key.slice("module.".length), tensor]));
}

/** The model's state dict in `top`, the object a torch.save pickle held. */
export function findStateDict(top: unknown): StateDict {
  if (!(top instanceof Map)) {
    const found = top instanceof RebuiltTensor ? "a single tensor" : describeValue(top);
    fail(`holds ${found}, not a dict of tensors (a state dict)`);
  }
  if (isTensorDict(top)) return stripModulePrefix(toStateDict(top));
  for (const key of STATE_DICT_KEYS) {
    const value = top.get(key);
    if (isTensorDict(value)) return stripModulePrefix(toStateDict(value));
  }
  const nested = [...top.values()].filter(isTensorDict);
  if (nested.length === 1) return stripModulePrefix(toStateDict(nested[0]));
  const keys = [...top.keys()].map((key) => typeof key === "string" ? `'${key}'` : String(key));
  const shown = keys.length > 20 ? [...keys.slice(0, 20), "…"] : keys;
  const why = nested.length > 1
    ? `${nested.length} nested dicts of tensors and none under ${STATE_DICT_KEYS.join("/")}`
    : "no dict of tensors";
  fail(`found ${why} in a checkpoint with top-level keys ${shown.join(", ") || "(none)"}`);
}

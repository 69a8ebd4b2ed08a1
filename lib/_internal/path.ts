// Internal: the path helpers we use, behind one module so @std/path can replace node:path later
// (JSR is unreachable from our build machines, node:path ships with Deno).
export { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";

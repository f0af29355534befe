// core/ uses Node's Buffer for byte layouts and hex; the browser bundle injects the `buffer`
// package's implementation (the same API), so core stays as it is.
export { Buffer } from 'buffer/'

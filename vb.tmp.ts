import { vrfOutput } from './node/core/index/vrf.ts'
import { vrfInput } from './node/core/index/layout.ts'
import { VrfOutputs } from './node/index/vrf-output.ts'
const sk = new Uint8Array(32).fill(7)
const o = new VrfOutputs(sk)
for (let r=0;r<3;r++){
let t = performance.now()
for (let i=0;i<300;i++) vrfOutput(sk, vrfInput('P-'+i))
console.log('ref ms', (performance.now()-t)/300)
t = performance.now()
for (let i=0;i<300;i++) o.output(vrfInput('P-'+i))
console.log('x25519 ms', (performance.now()-t)/300, o.fallbacks)
}

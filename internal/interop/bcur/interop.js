// Interop harness for transfer/ur: reads one JSON request on stdin and writes
// one JSON answer on stdout, using @ngraveio/bc-ur as the independent
// implementation.
//
//   {"op":"encode","type":T,"hex":H,"maxFragmentLen":N,"count":C} -> {"parts":[...]}
//   {"op":"decode","parts":[...]}  -> {"complete":b,"success":b,"type":T,"hex":H,"error":E}
'use strict';

const { UR, UREncoder, URDecoder } = require('@ngraveio/bc-ur');

function encode(req) {
  const message = Buffer.from(req.hex, 'hex');
  const ur = new UR(UR.fromBuffer(message).cbor, req.type);
  const encoder = new UREncoder(ur, req.maxFragmentLen);
  const parts = [];
  for (let i = 0; i < req.count; i++) parts.push(encoder.nextPart());
  return { parts };
}

function decode(req) {
  const decoder = new URDecoder();
  for (const p of req.parts) {
    if (decoder.isComplete()) break;
    decoder.receivePart(p);
  }
  const out = { complete: decoder.isComplete(), success: false, type: '', hex: '', error: '' };
  if (decoder.isComplete()) {
    if (decoder.isSuccess()) {
      const ur = decoder.resultUR();
      out.success = true;
      out.type = ur.type;
      out.hex = ur.decodeCBOR().toString('hex');
    } else {
      out.error = String(decoder.resultError());
    }
  }
  return out;
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  let res;
  if (req.op === 'encode') res = encode(req);
  else if (req.op === 'decode') res = decode(req);
  else throw new Error('unknown op ' + req.op);
  process.stdout.write(JSON.stringify(res));
});

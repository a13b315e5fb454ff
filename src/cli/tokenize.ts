// npm run -s tokenize -- --model FILE --text TEXT [--json] [--no-bos] [--special]
import { tokenizerFromGguf } from '../gpu/tokenizer';
import { Args, runMain } from './args';
import { openGgufFile } from '../node/file-source';

async function main(): Promise<void> {
  const args = new Args(process.argv.slice(2), new Set(['json', 'no-bos', 'special']), new Set(['model', 'text']));
  const { file, close } = await openGgufFile(args.required('model'));
  try {
    const tokenizer = tokenizerFromGguf(file.metadata);
    const text = args.required('text');
    const ids = tokenizer.encode(text, { parseSpecial: args.flag('special'), ...(args.flag('no-bos') ? { addBos: false } : {}) });
    const pieces = ids.map((id) => tokenizer.tokenText(id));
    if (args.flag('json')) {
      process.stdout.write(`${JSON.stringify({ tokens: ids, pieces, count: ids.length, vocab: tokenizer.kind, warnings: tokenizer.warnings })}\n`);
    } else {
      for (let i = 0; i < ids.length; i++) process.stdout.write(`${String(ids[i]).padStart(8)} -> ${JSON.stringify(pieces[i])}\n`);
      process.stdout.write(`${ids.length} tokens\n`);
    }
  } finally {
    await close();
  }
}

runMain(main);

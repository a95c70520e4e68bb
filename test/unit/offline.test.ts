import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HashingEmbedder, OfflineModel, splitSentences } from '../../src/memory/providers/offline.js';
import { StructuredOutputUnavailableError } from '../../src/memory/providers/types.js';

/**
 * The built-in offline mode: the hashing embedder (determinism, normalisation, lexical similarity,
 * Unicode) and the heuristic model (entity and relationship extraction, caps, summaries, extractive
 * answers, structured output refused).
 */

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  a.forEach((x, i) => {
    sum += x * b[i]!;
  });
  return sum;
}

function norm(a: readonly number[]): number {
  return Math.sqrt(dot(a, a));
}

const ADA = 'Ada Lovelace worked with Charles Babbage in London in 1843.';

describe('HashingEmbedder', () => {
  const embedder = new HashingEmbedder();

  it('has a name and 256 dimensions by default, or the ones asked for', async () => {
    assert.equal(embedder.name, 'hashing');
    assert.equal(embedder.dimensions, 256);
    const small = new HashingEmbedder({ dimensions: 16 });
    assert.equal(small.dimensions, 16);
    assert.equal((await small.embed(['hello']))[0]!.length, 16);
    assert.equal(new HashingEmbedder(32).dimensions, 32);
    assert.throws(() => new HashingEmbedder(0), RangeError);
  });

  it('is deterministic across calls and instances', async () => {
    const [a] = await embedder.embed([ADA]);
    const [b] = await new HashingEmbedder().embed([ADA]);
    assert.deepEqual(a, b);
    assert.deepEqual(await embedder.embed(['x', 'y', 'x']), [embedder.embedOne('x'), embedder.embedOne('y'), embedder.embedOne('x')]);
  });

  it('returns unit vectors, and the zero vector for text without words', async () => {
    const [text, empty, punctuation] = await embedder.embed(['Some words here', '', '... !!! ---']);
    assert.ok(Math.abs(norm(text!) - 1) < 1e-9);
    assert.equal(empty!.length, 256);
    assert.ok(empty!.every((x) => x === 0));
    assert.ok(punctuation!.every((x) => x === 0));
  });

  it('ignores case and puts texts about the same thing closer', async () => {
    const [query, cats, cars] = await embedder.embed([
      'cats',
      'Cats are small furry animals; my cat sleeps all day and other cats play.',
      'Cars need fuel and drive on roads; my car is red.',
    ]);
    assert.ok(dot(query!, cats!) > dot(query!, cars!), 'cats is closer to the text about cats');
    assert.deepEqual(embedder.embedOne('HELLO World'), embedder.embedOne('hello world'));
  });

  it('gives related word forms a high cosine through shared trigrams', () => {
    const running = embedder.embedOne('running');
    const runner = embedder.embedOne('runner');
    const banana = embedder.embedOne('banana');
    assert.ok(dot(running, runner) > 0.2, `running~runner ${dot(running, runner)}`);
    assert.ok(dot(running, runner) > dot(running, banana));
  });

  it('handles Unicode letters and digits', () => {
    const a = embedder.embedOne('Zoë visited Łódź and 東京 in 2020');
    const b = embedder.embedOne('zoë łódź');
    assert.ok(Math.abs(norm(a) - 1) < 1e-9);
    assert.ok(dot(a, b) > 0.3);
    // Decomposed and composed forms are the same text.
    assert.deepEqual(embedder.embedOne('Zoe\u0308'), embedder.embedOne('Zo\u00eb'));
  });

  it('always yields finite vectors of norm 0 or 1 (property)', () => {
    const small = new HashingEmbedder(24);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const vector = small.embedOne(text);
        assert.equal(vector.length, 24);
        assert.ok(vector.every(Number.isFinite));
        const n = norm(vector);
        assert.ok(n === 0 || Math.abs(n - 1) < 1e-9);
      }),
    );
  });
});

describe('OfflineModel.extractGraph', () => {
  const model = new OfflineModel();

  it('is the offline model', () => {
    assert.equal(model.name, 'offline');
  });

  it('extracts names, places and years with relationships named by the verb between them', async () => {
    const graph = await model.extractGraph(ADA);
    assert.deepEqual(
      graph.nodes.map((node) => [node.id, node.name, node.type]),
      [
        ['Ada Lovelace', 'Ada Lovelace', 'entity'],
        ['Charles Babbage', 'Charles Babbage', 'entity'],
        ['London', 'London', 'place'],
        ['1843', '1843', 'date'],
      ],
    );
    for (const node of graph.nodes) assert.equal(node.description, ADA);
    const edges = graph.edges.map((edge) => `${edge.source_node_id} -${edge.relationship_name}-> ${edge.target_node_id}`);
    assert.deepEqual(edges, [
      'Ada Lovelace -worked_with-> Charles Babbage',
      'Ada Lovelace -mentioned_with-> London',
      'Ada Lovelace -mentioned_with-> 1843',
      'Charles Babbage -in-> London',
      'Charles Babbage -mentioned_with-> 1843',
      'London -in-> 1843',
    ]);
    for (const edge of graph.edges) assert.equal(edge.description, ADA);
  });

  it('is deterministic', async () => {
    const text = `${ADA} The Analytical Engine was designed by Babbage. NASA and IBM cooperated.`;
    assert.deepEqual(await model.extractGraph(text), await model.extractGraph(text));
  });

  it('skips sentence-initial function words and the pronoun I, keeps acronyms and name connectors', async () => {
    const graph = await model.extractGraph(
      'The Eiffel Tower stands in Paris. In 1889, it opened. However, I met Dr Alan Turing at the University of Manchester. NASA works with ESA.',
    );
    const byId = new Map(graph.nodes.map((node) => [node.id, node]));
    assert.deepEqual([...byId.keys()], ['Eiffel Tower', 'Paris', '1889', 'Alan Turing', 'University of Manchester', 'NASA', 'ESA']);
    assert.equal(byId.get('Paris')!.type, 'place');
    assert.equal(byId.get('1889')!.type, 'date');
    assert.equal(byId.get('Alan Turing')!.type, 'person');
    assert.equal(byId.get('University of Manchester')!.type, 'organisation');
    assert.equal(byId.get('Eiffel Tower')!.description, 'The Eiffel Tower stands in Paris.');
    const relations = graph.edges.map((edge) => [edge.source_node_id, edge.relationship_name, edge.target_node_id]);
    assert.deepEqual(relations, [
      ['Eiffel Tower', 'stands_in', 'Paris'],
      ['Alan Turing', 'at', 'University of Manchester'],
      ['NASA', 'works_with', 'ESA'],
    ]);
  });

  it('types organisations by suffix and falls back to mentioned_with', async () => {
    const graph = await model.extractGraph('Acme Corp hired Bob Smith, then Bob Smith and Jane Doe left for a very long holiday in Rome.');
    const types = Object.fromEntries(graph.nodes.map((node) => [node.id, node.type]));
    assert.deepEqual(types, { 'Acme Corp': 'organisation', 'Bob Smith': 'entity', 'Jane Doe': 'entity', Rome: 'place' });
    const find = (source: string, target: string) => graph.edges.find((edge) => edge.source_node_id === source && edge.target_node_id === target);
    assert.equal(find('Acme Corp', 'Bob Smith')!.relationship_name, 'hired');
    // "and" carries no meaning; more than three words is no relationship name.
    assert.equal(find('Bob Smith', 'Jane Doe')!.relationship_name, 'mentioned_with');
    assert.equal(find('Jane Doe', 'Rome')!.relationship_name, 'mentioned_with');
    // No self-loops although Bob Smith appears twice in the sentence.
    assert.ok(graph.edges.every((edge) => edge.source_node_id !== edge.target_node_id));
  });

  it('only links entities of the same sentence', async () => {
    const graph = await model.extractGraph('Alice Adams lives in Oslo. Bob Brown lives in Rome.');
    assert.equal(graph.nodes.length, 4);
    assert.deepEqual(
      graph.edges.map((edge) => [edge.source_node_id, edge.relationship_name, edge.target_node_id]),
      [
        ['Alice Adams', 'lives_in', 'Oslo'],
        ['Bob Brown', 'lives_in', 'Rome'],
      ],
    );
  });

  it('caps the graph at 30 nodes and 60 edges', async () => {
    const names = Array.from({ length: 45 }, (_, i) => `Zq${'abcdefghij'[i % 10]}${'klmnopqrst'[Math.floor(i / 10)]}`);
    const graph = await model.extractGraph(`We met ${names.join(', ')} there.`);
    assert.equal(graph.nodes.length, 30);
    assert.deepEqual(
      graph.nodes.map((node) => node.id),
      names.slice(0, 30),
    );
    assert.equal(graph.edges.length, 60);
    const ids = new Set(graph.nodes.map((node) => node.id));
    for (const edge of graph.edges) assert.ok(ids.has(edge.source_node_id) && ids.has(edge.target_node_id));
  });

  it('trims descriptions to 200 characters', async () => {
    const sentence = `Marie Curie ${'worked very hard on many things '.repeat(12)}in Paris.`;
    const graph = await model.extractGraph(sentence);
    for (const node of graph.nodes) assert.ok(node.description.length <= 200, `${node.description.length}`);
    assert.ok(graph.nodes[0]!.description.startsWith('Marie Curie worked'));
  });

  it('handles Unicode names and text without capitals', async () => {
    const graph = await model.extractGraph('Zoë Ångström visited Łódź in 2020. Владимир живёт в Москве. 東京は大きい。');
    const ids = graph.nodes.map((node) => node.id);
    assert.deepEqual(ids, ['Zoë Ångström', 'Łódź', '2020', 'Владимир', 'Москве']);
    assert.equal(graph.edges.find((edge) => edge.source_node_id === 'Zoë Ångström')!.relationship_name, 'visited');
    assert.deepEqual(await model.extractGraph('all lower case, nothing to see.'), { nodes: [], edges: [] });
  });

  it('returns an empty graph for empty text', async () => {
    assert.deepEqual(await model.extractGraph(''), { nodes: [], edges: [] });
    assert.deepEqual(await model.extractGraph('   \n\n  '), { nodes: [], edges: [] });
  });

  it('keeps every edge between extracted nodes and within the caps (property)', async () => {
    const word = fc.oneof(
      fc.constantFrom('The', 'In', 'Ada', 'Lovelace', 'London', 'NASA', 'of', 'University', 'worked', 'with', 'in', 'and', '1843', 'I', 'Dr'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
    );
    const separator = fc.constantFrom(' ', ' ', ', ', '. ', '! ', '\n\n', '; ');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(word, separator), { maxLength: 80 }), async (parts) => {
        const text = parts.map(([w, s]) => w + s).join('');
        const graph = await model.extractGraph(text);
        assert.ok(graph.nodes.length <= 30);
        assert.ok(graph.edges.length <= 60);
        const ids = new Set(graph.nodes.map((node) => node.id));
        assert.equal(ids.size, graph.nodes.length);
        for (const node of graph.nodes) {
          assert.ok(node.id !== '' && node.id === node.name);
          assert.ok(node.description.length <= 200);
        }
        for (const edge of graph.edges) {
          assert.ok(ids.has(edge.source_node_id) && ids.has(edge.target_node_id));
          assert.notEqual(edge.source_node_id, edge.target_node_id);
          assert.match(edge.relationship_name, /^[\p{Ll}\p{Lo}\p{M}\p{N}_]+$/u);
        }
      }),
    );
  });
});

describe('OfflineModel text answers', () => {
  const model = new OfflineModel();

  it('summarises with the first sentences, up to about 300 characters', async () => {
    const text = 'First sentence here. Second one is here too! Third? ' + 'Filler sentence number x. '.repeat(30);
    const summary = await model.summarize(text);
    assert.ok(summary.startsWith('First sentence here. Second one is here too! Third?'));
    assert.ok(summary.length <= 300);
    assert.ok(summary.length > 250, 'it fills the budget with whole sentences');
    assert.ok(text.startsWith(summary));
    const long = await model.summarize(`${'word '.repeat(200)}end.`);
    assert.ok(long.length <= 300 && long.length > 0);
    assert.equal(await model.summarize(''), '');
  });

  it('answers with the retrieved context itself, whatever the question (offline completions)', async () => {
    const context = 'Cats sleep a lot.\n\nQuestion: not a question\nAda Lovelace worked in London.';
    assert.equal(await model.answer('Answer the question.', 'Where did Ada Lovelace work?', context), context);
    assert.equal(await model.answer('', '', ''), '');
  });

  it('has no structured output: it says so with StructuredOutputUnavailableError', async () => {
    await assert.rejects(model.structured('s', 'u', 'X', {}), StructuredOutputUnavailableError);
  });

  it('refuses structured output', async () => {
    await assert.rejects(model.structured('s', 'u', 'Name', {}), { message: 'Structured output needs a language model; set LLM_API_KEY.' });
  });
});

describe('splitSentences', () => {
  it('splits at terminators and blank lines but not at abbreviations, initials or decimals', () => {
    assert.deepEqual(splitSentences('One. Two! Three? Mr. Smith paid 3.50 dollars. J. R. R. Tolkien wrote.\n\nNew paragraph\nwrapped line'), [
      'One.',
      'Two!',
      'Three?',
      'Mr. Smith paid 3.50 dollars.',
      'J. R. R. Tolkien wrote.',
      'New paragraph wrapped line',
    ]);
    assert.deepEqual(splitSentences('他来了。她走了。'), ['他来了。', '她走了。']);
    assert.deepEqual(splitSentences(''), []);
  });
});

describe('the offline providers share the event loop', () => {
  /** Whether a callback queued for the next turn of the event loop ran before `work` finished. */
  async function loopTurnedDuring<T>(work: () => Promise<T>): Promise<{ turned: boolean; result: T }> {
    let finished = false;
    let turned = false;
    setImmediate(() => (turned = !finished));
    const result = await work();
    finished = true;
    return { turned, result };
  }

  it('a large batch of texts is embedded in turns, with the same vectors as one by one', async () => {
    const embedder = new HashingEmbedder();
    const texts = Array.from({ length: 100 }, (_, i) => `${ADA} Chunk ${i}.`);
    const { turned, result } = await loopTurnedDuring(() => embedder.embed(texts));
    assert.equal(turned, true, 'the event loop ran during the batch');
    assert.deepEqual(
      result,
      texts.map((t) => embedder.embedOne(t)),
    );
  });

  it('each extraction and summary lets the event loop run first, with the same result', async () => {
    const model = new OfflineModel();
    const extraction = await loopTurnedDuring(() => model.extractGraph(ADA));
    assert.equal(extraction.turned, true);
    assert.deepEqual(extraction.result, await model.extractGraph(ADA));
    assert.ok(extraction.result.nodes.some((n) => n.name === 'Ada Lovelace'));
    const summary = await loopTurnedDuring(() => model.summarize(ADA));
    assert.equal(summary.turned, true);
    assert.equal(summary.result, ADA);
  });
});

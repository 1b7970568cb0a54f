// The baseline of issue 15's benchmarks: a minimal unbundled function doing each benchmarked request's
// Firestore operations with the bare client, and nothing else (no token check, no validation), as
// most Firestore-backed functions are written. The cold start times its default, one document read.
const functions = require('@google-cloud/functions-framework');
const { Firestore } = require('@google-cloud/firestore');

const db = new Firestore();
const DATASET = 'bench';
const USER = 'bench@example.org';

const routes = {
  'GET /kv': async (req) => (await db.collection('clio_keyvalue').doc(req.get('x-user') || USER).collection('bench').doc('key').get()).data(),
  'POST /kv': async (req) => {
    await db.collection('clio_keyvalue').doc(req.get('x-user') || USER).collection('bench').doc(String(req.body.key)).set(req.body);
    return null;
  },
  'GET /annotations': async () => (await db.collection('clio_annotations_v2').doc(DATASET).collection(USER).get()).docs.map((doc) => doc.data()),
  'POST /annotation': async (req) => {
    const key = req.body.pos.join('_');
    await db.collection('clio_annotations_v2').doc(DATASET).collection(`${USER}-bare`).doc(key).set(req.body);
    return { key };
  },
};

functions.http('bare', async (req, res) => {
  const route = routes[`${req.method} ${req.path}`];
  const data = route ? await route(req) : (await db.collection('clio_datasets').doc(DATASET).get()).data();
  res.json(data ?? null);
});

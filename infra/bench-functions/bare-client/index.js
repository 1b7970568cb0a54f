// The cold-start baseline of issue 15: a minimal unbundled function that answers with one document
// read by the bare Firestore client, as most Firestore-backed functions are written.
const functions = require('@google-cloud/functions-framework');
const { Firestore } = require('@google-cloud/firestore');

const db = new Firestore();

functions.http('bare', async (req, res) => {
  const snapshot = await db.collection('clio_datasets').doc('bench').get();
  res.json(snapshot.data() ?? null);
});

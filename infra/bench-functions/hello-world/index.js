// The floor of every cold start: the Functions Framework answering without any library.
const functions = require('@google-cloud/functions-framework');

functions.http('hello', (req, res) => {
  res.send('hello');
});

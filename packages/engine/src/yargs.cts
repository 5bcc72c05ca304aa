// yargs through its CommonJS build: the ESM build wraps help text in the middle
// of words (its ESM cliui has no word-aware wrapping). Being a static require,
// it is also bundled into the startup snapshot.
import yargs = require('yargs');
export = yargs;

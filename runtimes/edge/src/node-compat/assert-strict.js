// node:assert/strict: the assert package's strict mode.
import assert from "assert/";

export default assert.strict;

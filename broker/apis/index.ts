// Imports every API handler so each registers itself. A new API is one new file here plus its test
// (test/broker/apis/<file>.test.ts; the coverage test fails without it).

import './api-versions.ts'
import './create-topics.ts'
import './delete-topics.ts'
import './describe-configs.ts'
import './fetch.ts'
import './list-offsets.ts'
import './metadata.ts'
import './produce.ts'

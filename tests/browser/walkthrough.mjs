// The Swagger walkthrough of CMS's "BCDA Requesting Access" guide, click by
// click, in headless Chromium, against a running `bcda sandbox`:
// authorize with the client id and secret, get a token, authorize with
// "Bearer <token>" (and see the 401 the guide warns of without "Bearer "),
// read /_auth, start a Coverage export, poll its job, download its file.
// Then, on the v2 page, the same for partially adjudicated claims: sign in
// as TEST001 (entitled to them), export `_type=Claim`, poll, download the
// file and check it holds Claim lines. Then on the v3 page, as TEST001:
// export `_type=ExplanationOfBenefit` with a `_typeFilter` typed in the
// page's field asking for SharedSystem claims, poll, download a file and
// check its lines are EOBs tagged SharedSystem; then the same export without
// a `_typeFilter`, whose manifest lists the warnings-and-info file (the
// default System-Type warning) under `error`, downloaded and checked too.
// Asserts on what the page shows; saves a screenshot of each step.
//
// Environment: BCDA_URL (e.g. http://127.0.0.1:3000), BCDA_CREDENTIALS (the
// sandbox-credentials.json), SCREENSHOTS (a directory), CHROMIUM (default
// /usr/bin/chromium).

import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const base = process.env.BCDA_URL;
const credentials = JSON.parse(readFileSync(process.env.BCDA_CREDENTIALS, 'utf8'));
const shots = process.env.SCREENSHOTS ?? 'screenshots';
mkdirSync(shots, { recursive: true });
function credentialsOf(cmsId) {
  const c = credentials.find((entry) => entry.cms_id === cmsId);
  assert.ok(c, `${cmsId} in the sandbox credentials`);
  return { clientId: c.client_id, clientSecret: c.client_secret };
}
const { clientId, clientSecret } = credentialsOf('A9994');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.setDefaultTimeout(30_000);
let step = 0;
async function shot(name) {
  step += 1;
  await page.screenshot({ path: join(shots, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: false });
}

/** The operation block of `method path`. */
function operation(method, path) {
  return page.locator(`.opblock.opblock-${method}:has(.opblock-summary-path[data-path="${path}"])`).first();
}

/** Expands an operation, presses "Try it out" (once), fills parameters. */
async function tryOut(op, params = {}) {
  if (!(await op.locator('.opblock-body').isVisible().catch(() => false))) {
    await op.locator('.opblock-summary').first().click();
  }
  const tryButton = op.locator('.try-out__btn');
  if ((await tryButton.textContent()).trim() === 'Try it out') {
    await tryButton.click();
  }
  for (const [name, value] of Object.entries(params)) {
    const input = op.locator(`tr[data-param-name="${name}"] input`).first();
    await input.fill(value);
  }
}

/** Presses Execute and returns the status code and body text the page shows. */
async function execute(op) {
  const responses = op.locator('.live-responses-table');
  // Clear the previous execution's result first, so that what is read
  // below is this execution's (an operation executed again, e.g. a status
  // poll or a second kick-off, would otherwise show the old one meanwhile).
  const clear = op.locator('.btn-clear');
  if ((await clear.count()) > 0) {
    await clear.first().click();
    await responses.waitFor({ state: 'detached' });
  }
  await op.locator('.btn.execute').click();
  await responses.waitFor();
  await page.waitForTimeout(300);
  const row = responses.locator('tr.response').first();
  // Bring the result into view so the step's screenshot shows it.
  await row.scrollIntoViewIfNeeded();
  const status = (await row.locator('.response-col_status').textContent()).trim();
  const description = row.locator('.response-col_description');
  const body = (await description.locator('.microlight, pre').first().textContent({ timeout: 2000 }).catch(() => '')) ?? '';
  const headers = (await description.textContent()) ?? '';
  return { status, body, headers };
}

/** Opens the Authorize dialog and fills the scheme that has `input` fields. */
async function authorize(fill) {
  await page.locator('.scheme-container .btn.authorize').click();
  const modal = page.locator('.modal-ux');
  await modal.waitFor();
  await fill(modal);
  await modal.locator('.btn-done').first().click();
}

/** The lock's HTTP Basic scheme: client id and secret. */
async function authorizeBasic(id, secret) {
  await authorize(async (modal) => {
    const basic = modal.locator('.auth-container:has(input[type="password"])');
    await basic.locator('input[type="text"]').first().fill(id);
    await basic.locator('input[type="password"]').fill(secret);
    await basic.locator('button.authorize').click();
    // Once authorized, the dialog shows the scheme with a Logout button.
    await modal.locator('button:has-text("Logout")').first().waitFor();
  });
}

/** The lock's bearer scheme: `value` as the Authorization header. */
async function authorizeBearer(value) {
  await authorize(async (modal) => {
    const key = modal.locator('.auth-container:has(input[type="text"]):not(:has(input[type="password"]))').first();
    await key.locator('input[type="text"]').fill(value);
    await key.locator('button.authorize').click();
    await modal.locator('button:has-text("Logout")').first().waitFor();
  });
}

/** Polls the status operation of `version` until the job's manifest. */
async function pollToManifest(version, jobId) {
  const statusOp = operation('get', `/api/${version}/jobs/{jobId}`);
  await tryOut(statusOp, { jobId });
  let status;
  for (let i = 0; i < 60; i += 1) {
    status = await execute(statusOp);
    if (status.status === '200') break;
    assert.equal(status.status, '202', `status: ${status.body}`);
    assert.match(status.headers, /x-progress:\s*(Pending|In Progress \(\d{1,3}%\))/i);
    await page.waitForTimeout(1000);
  }
  assert.equal(status.status, '200', 'the job completes');
  return JSON.parse(status.body);
}

/**
 * Executes the data operation for one file and returns the NDJSON the page
 * holds: the body it shows, or what its Download link (a blob URL in the
 * page) points to.
 */
async function downloadFile(jobId, filename) {
  const dataOp = operation('get', '/data/{jobId}/{filename}');
  await tryOut(dataOp, { jobId, filename });
  const file = await execute(dataOp);
  assert.equal(file.status, '200');
  const download = dataOp.locator('.live-responses-table a[download], .live-responses-table a:has-text("Download")');
  if ((await download.count()) > 0) {
    const href = await download.first().getAttribute('href');
    return page.evaluate(async (url) => (await fetch(url)).text(), href);
  }
  return file.body;
}

/** The System-Type tag codes of an ExplanationOfBenefit (v3). */
const SYSTEM_TYPE = 'https://bluebutton.cms.gov/fhir/CodeSystem/System-Type';
function systemTypes(eob) {
  return (eob.meta?.tag ?? []).filter((t) => t.system === SYSTEM_TYPE).map((t) => t.code);
}

/** Signs in on the current page as `cmsId`: Basic, token, Bearer. */
async function signIn(cmsId) {
  const { clientId: id, clientSecret: secret } = credentialsOf(cmsId);
  await authorizeBasic(id, secret);
  const op = operation('post', '/auth/token');
  await tryOut(op);
  const result = await execute(op);
  assert.equal(result.status, '200', `${cmsId} token: ${result.body}`);
  await authorizeBearer(`Bearer ${JSON.parse(result.body).access_token}`);
}

/** Executes a kick-off and returns the job id its content-location names. */
async function kickOff(op, params) {
  await tryOut(op, params);
  const result = await execute(op);
  assert.equal(result.status, '202', `kick-off ${JSON.stringify(params)}: ${result.body} ${result.headers}`);
  const location = result.headers.match(/content-location:\s*(\S+)/i);
  assert.ok(location, `a content-location header is shown: ${result.headers}`);
  return location[1].split('/').pop();
}

/** The file name of a manifest entry. */
function fileName(entry) {
  return entry.url.split('/').pop();
}

async function logoutAll() {
  await page.locator('.scheme-container .btn.authorize').click();
  const modal = page.locator('.modal-ux');
  const logout = modal.locator('button:has-text("Logout")');
  while ((await logout.count()) > 0) {
    await logout.first().click();
  }
  await modal.locator('.btn-done').first().click();
}

try {
  // Navigating to Swagger.
  await page.goto(`${base}/api/v1/swagger/`);
  await page.locator('.swagger-ui .info .title').waitFor();
  await shot('swagger');

  // The lock: client id and secret (HTTP Basic), Authorize, Close.
  await authorizeBasic(clientId, clientSecret);
  await shot('authorized-basic');

  // /auth/token: Try it out, Execute, 200 with an access_token.
  const tokenOp = operation('post', '/auth/token');
  await tryOut(tokenOp);
  const tokenResult = await execute(tokenOp);
  assert.equal(tokenResult.status, '200', `token: ${tokenResult.body}`);
  const token = JSON.parse(tokenResult.body).access_token;
  assert.ok(token && !token.includes(' '), 'an access_token in the response body');
  await shot('token');

  // The guide's warning: the token without "Bearer " gives 401.
  await authorizeBearer(token);
  const jobsOp = operation('get', '/api/v1/jobs');
  await tryOut(jobsOp);
  const unauthorized = await execute(jobsOp);
  assert.equal(unauthorized.status, '401', 'without "Bearer " the API answers 401');
  await shot('missing-bearer-401');

  // Authorize again with "Bearer <token>".
  await logoutAll();
  await authorizeBearer(`Bearer ${token}`);
  await shot('authorized-bearer');

  // Metadata: /_auth, Try it out, Execute: the auth provider's details.
  const authOp = operation('get', '/_auth');
  await tryOut(authOp);
  const auth = await execute(authOp);
  assert.equal(auth.status, '200');
  assert.match(auth.body, /auth_provider/);
  await shot('auth-provider');

  // bulkData: GET /api/v1/Patient/$export with _type=Coverage: 202 and a job id.
  const exportOp = operation('get', '/api/v1/Patient/$export');
  await tryOut(exportOp, { _type: 'Coverage' });
  const kickoff = await execute(exportOp);
  assert.equal(kickoff.status, '202', `kick-off: ${kickoff.body} ${kickoff.headers}`);
  const location = kickoff.headers.match(/content-location:\s*(\S+)/i);
  assert.ok(location, `a content-location header is shown: ${kickoff.headers}`);
  const jobId = location[1].split('/').pop();
  await shot('kickoff-202');

  // jobs: poll /api/v1/jobs/{jobId} until 200; the manifest names the file.
  const manifest = await pollToManifest('v1', jobId);
  const coverage = manifest.output.find((o) => o.type === 'Coverage');
  assert.ok(coverage, 'a Coverage file in the manifest');
  const filename = coverage.url.split('/').pop();
  await shot('manifest');

  // data: /data/{jobId}/{filename}: the NDJSON, or its Download link.
  const coverageLines = (await downloadFile(jobId, filename)).split('\n').filter((l) => l.trim());
  assert.ok(coverageLines.length > 0, 'the page holds the NDJSON');
  assert.ok(coverageLines.every((l) => JSON.parse(l).resourceType === 'Coverage'), 'Coverage lines');
  await shot('download');

  // Partially adjudicated claims, on the v2 page: TEST001 is entitled to them.
  await page.goto(`${base}/api/v2/swagger/`);
  await page.locator('.swagger-ui .info .title').waitFor();
  const reach = credentialsOf('TEST001');
  await authorizeBasic(reach.clientId, reach.clientSecret);
  const reachTokenOp = operation('post', '/auth/token');
  await tryOut(reachTokenOp);
  const reachToken = await execute(reachTokenOp);
  assert.equal(reachToken.status, '200', `TEST001 token: ${reachToken.body}`);
  await authorizeBearer(`Bearer ${JSON.parse(reachToken.body).access_token}`);
  await shot('v2-authorized-test001');

  const claimExportOp = operation('get', '/api/v2/Patient/$export');
  await tryOut(claimExportOp, { _type: 'Claim' });
  const claimKickoff = await execute(claimExportOp);
  assert.equal(claimKickoff.status, '202', `Claim kick-off: ${claimKickoff.body} ${claimKickoff.headers}`);
  const claimLocation = claimKickoff.headers.match(/content-location:\s*(\S+)/i);
  assert.ok(claimLocation, `a content-location header is shown: ${claimKickoff.headers}`);
  const claimJobId = claimLocation[1].split('/').pop();
  await shot('v2-claim-kickoff-202');

  const claimManifest = await pollToManifest('v2', claimJobId);
  assert.deepEqual([...new Set(claimManifest.output.map((o) => o.type))], ['Claim'], 'only Claim files');
  const claimFilename = claimManifest.output[0].url.split('/').pop();
  await shot('v2-claim-manifest');

  const claims = (await downloadFile(claimJobId, claimFilename)).split('\n').filter((l) => l.trim());
  assert.equal(claims.length, claimManifest.output[0].count, 'every Claim of the manifest is in the file');
  for (const line of claims) {
    assert.equal(JSON.parse(line).resourceType, 'Claim');
  }
  await shot('v2-claim-download');

  // API v3, as TEST001: partially adjudicated claims come as
  // ExplanationOfBenefits tagged SharedSystem, asked for by `_typeFilter`.
  await page.goto(`${base}/api/v3/swagger/`);
  await page.locator('.swagger-ui .info .title').waitFor();
  await signIn('TEST001');
  await shot('v3-authorized-test001');

  const v3ExportOp = operation('get', '/api/v3/Patient/$export');
  const sharedJobId = await kickOff(v3ExportOp, {
    _type: 'ExplanationOfBenefit',
    _typeFilter: `ExplanationOfBenefit?_tag=${SYSTEM_TYPE}|SharedSystem`,
  });
  await shot('v3-shared-kickoff-202');

  const sharedManifest = await pollToManifest('v3', sharedJobId);
  assert.ok(sharedManifest.output.length > 0, 'SharedSystem EOB files');
  assert.deepEqual([...new Set(sharedManifest.output.map((o) => o.type))], ['ExplanationOfBenefit'], 'only EOB files');
  assert.ok(!sharedManifest.error.some((e) => fileName(e) === 'warnings-and-info.ndjson'),
    'a System-Type was named: no default warning');
  await shot('v3-shared-manifest');

  const sharedEntry = sharedManifest.output[0];
  const sharedEobs = (await downloadFile(sharedJobId, fileName(sharedEntry))).split('\n').filter((l) => l.trim());
  assert.equal(sharedEobs.length, sharedEntry.count, 'every EOB of the manifest entry is in the file');
  for (const line of sharedEobs) {
    const eob = JSON.parse(line);
    assert.equal(eob.resourceType, 'ExplanationOfBenefit');
    assert.deepEqual(systemTypes(eob), ['SharedSystem'], `EOB ${eob.id} is tagged SharedSystem`);
  }
  await shot('v3-shared-download');

  // The same export without `_typeFilter`: the default System-Types
  // (NationalClaimsHistory, DDPS) and the warnings-and-info file saying so.
  const defaultJobId = await kickOff(v3ExportOp, { _type: 'ExplanationOfBenefit', _typeFilter: '' });
  const defaultManifest = await pollToManifest('v3', defaultJobId);
  assert.match(defaultManifest.request, /_type=ExplanationOfBenefit$/, 'no _typeFilter was sent');
  const warningEntry = defaultManifest.error.find((e) => fileName(e) === 'warnings-and-info.ndjson');
  assert.ok(warningEntry, `the manifest lists warnings-and-info under error: ${JSON.stringify(defaultManifest.error)}`);
  assert.equal(warningEntry.type, 'OperationOutcome');
  await shot('v3-default-manifest');

  const warnings = (await downloadFile(defaultJobId, 'warnings-and-info.ndjson')).split('\n').filter((l) => l.trim());
  assert.equal(warnings.length, warningEntry.count);
  const warning = JSON.parse(warnings[0]);
  assert.equal(warning.resourceType, 'OperationOutcome');
  assert.equal(warning.issue[0].severity, 'warning');
  assert.match(warning.issue[0].details.text, /Default System-Type behavior includes only claims from NCH and DDPS/);
  const defaultEntry = defaultManifest.output.find((o) => o.type === 'ExplanationOfBenefit');
  assert.ok(defaultEntry, 'an EOB file in the default export');
  const defaultEobs = (await downloadFile(defaultJobId, fileName(defaultEntry))).split('\n').filter((l) => l.trim());
  assert.equal(defaultEobs.length, defaultEntry.count);
  for (const line of defaultEobs) {
    const tags = systemTypes(JSON.parse(line));
    assert.ok(tags.length === 1 && ['NationalClaimsHistory', 'DDPS'].includes(tags[0]), `default System-Type: ${tags}`);
  }
  await shot('v3-default-download');
  console.log(`walkthrough passed: v1 Coverage job ${jobId} (${coverageLines.length} lines), v2 Claim job ${claimJobId} (${claims.length} Claims), `
    + `v3 SharedSystem job ${sharedJobId} (${sharedEobs.length} EOBs), v3 default job ${defaultJobId} (warning and ${defaultEobs.length} EOBs)`);
} catch (error) {
  await shot('failure').catch(() => {});
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}

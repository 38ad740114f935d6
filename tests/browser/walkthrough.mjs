// The Swagger walkthrough of CMS's "BCDA Requesting Access" guide, click by
// click, in headless Chromium, against a running `bcda sandbox`:
// authorize with the client id and secret, get a token, authorize with
// "Bearer <token>" (and see the 401 the guide warns of without "Bearer "),
// read /_auth, start a Coverage export, poll its job, download its file.
// Then, on the v2 page, the same for partially adjudicated claims: sign in
// as TEST001 (entitled to them), export `_type=Claim`, poll, download the
// file and check it holds Claim lines. Then on the v3 page: TEST001's
// SharedSystem EOBs through `_typeFilter`, and the default's warning file.
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
  await op.locator('.btn.execute').click();
  await responses.waitFor();
  // Wait for this execution's result (the table is replaced each time).
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

  // API v3 on its own page: TEST001's partially adjudicated claims as
  // ExplanationOfBenefits, selected with _typeFilter; then the default
  // (no System-Type tag), which lists the warnings-and-info file.
  await page.goto(`${base}/api/v3/swagger/`);
  await page.locator('.swagger-ui .info .title').waitFor();
  await authorizeBasic(reach.clientId, reach.clientSecret);
  const v3TokenOp = operation('post', '/auth/token');
  await tryOut(v3TokenOp);
  const v3Token = await execute(v3TokenOp);
  assert.equal(v3Token.status, '200', `TEST001 token on v3: ${v3Token.body}`);
  await authorizeBearer(`Bearer ${JSON.parse(v3Token.body).access_token}`);
  await shot('v3-authorized-test001');

  const systemType = 'https://bluebutton.cms.gov/fhir/CodeSystem/System-Type';
  const v3ExportOp = operation('get', '/api/v3/Patient/$export');
  await tryOut(v3ExportOp, {
    _type: 'ExplanationOfBenefit',
    _typeFilter: `ExplanationOfBenefit?_tag=${systemType}|SharedSystem`,
  });
  const v3Kickoff = await execute(v3ExportOp);
  assert.equal(v3Kickoff.status, '202', `v3 kick-off: ${v3Kickoff.body} ${v3Kickoff.headers}`);
  const v3JobId = v3Kickoff.headers.match(/content-location:\s*(\S+)/i)[1].split('/').pop();
  await shot('v3-kickoff-202');
  const v3Manifest = await pollToManifest('v3', v3JobId);
  assert.deepEqual([...new Set(v3Manifest.output.map((o) => o.type))], ['ExplanationOfBenefit'], 'only EOB files');
  assert.ok(!v3Manifest.error.some((e) => e.url.endsWith('/warnings-and-info.ndjson')), 'a System-Type tag: no warning');
  await shot('v3-manifest');
  const v3File = v3Manifest.output[0];
  const eobs = (await downloadFile(v3JobId, v3File.url.split('/').pop())).split('\n').filter((l) => l.trim());
  assert.equal(eobs.length, v3File.count, 'every EOB of the manifest is in the file');
  for (const line of eobs) {
    const eob = JSON.parse(line);
    assert.equal(eob.resourceType, 'ExplanationOfBenefit');
    assert.deepEqual(eob.meta.tag.filter((t) => t.system === systemType).map((t) => t.code), ['SharedSystem']);
    assert.equal(eob.outcome, 'partial');
  }
  await shot('v3-download');

  await tryOut(v3ExportOp, { _type: 'ExplanationOfBenefit', _typeFilter: '' });
  const v3Default = await execute(v3ExportOp);
  assert.equal(v3Default.status, '202', `v3 default kick-off: ${v3Default.body} ${v3Default.headers}`);
  const v3DefaultId = v3Default.headers.match(/content-location:\s*(\S+)/i)[1].split('/').pop();
  const defaultManifest = await pollToManifest('v3', v3DefaultId);
  assert.ok(defaultManifest.error.some((e) => e.url.endsWith('/warnings-and-info.ndjson')), 'the default lists the warning file');
  await shot('v3-default-manifest');
  console.log(`walkthrough passed: v1 Coverage job ${jobId} (${coverageLines.length} lines), v2 Claim job ${claimJobId} (${claims.length} Claims), v3 SharedSystem job ${v3JobId} (${eobs.length} EOBs)`);
} catch (error) {
  await shot('failure').catch(() => {});
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}

// node:test reporter that prints one closing line CI can read: "tests: N passed, N failed, N skipped".
// On Node 20 the run totals arrive as test:diagnostic messages ("pass 12", "fail 0", ...).
export default async function* summary(source) {
  const totals = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
  for await (const event of source) {
    if (event.type !== 'test:diagnostic') continue;
    const match = /^(pass|fail|skipped|todo|cancelled) (\d+)$/.exec(event.data.message);
    if (match) totals[match[1]] = Number(match[2]);
  }
  const failed = totals.fail + totals.cancelled;
  yield `tests: ${totals.pass} passed, ${failed} failed, ${totals.skipped + totals.todo} skipped\n`;
}

// A line diff for the schema pages: the longest common subsequence of two line lists, as
// side-by-side rows [left, right, kind] with kind `same`, `del` (left only), `add` (right
// only) or `change` (a deleted line paired with an added one). Schemas are small (the LCS
// table is lines × lines); longer inputs are compared line by line.

const MAX = 2000;

export function diffLines(a, b) {
  if (a.length > MAX || b.length > MAX) {
    return Array.from({ length: Math.max(a.length, b.length) }, (_, i) =>
      [a[i], b[i], a[i] === b[i] ? "same" : a[i] === undefined ? "add" : b[i] === undefined ? "del" : "change"]);
  }
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push([a[i++], b[j++], "same"]);
    else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) ops.push([undefined, b[j++], "add"]);
    else ops.push([a[i++], undefined, "del"]);
  }
  return pair(ops);
}

/** Pairs runs of deletions with the additions that follow them, as changed lines. */
function pair(ops) {
  const rows = [];
  for (let k = 0; k < ops.length;) {
    if (ops[k][2] !== "del") {
      rows.push(ops[k++]);
      continue;
    }
    const dels = [];
    while (k < ops.length && ops[k][2] === "del") dels.push(ops[k++][0]);
    const adds = [];
    while (k < ops.length && ops[k][2] === "add") adds.push(ops[k++][1]);
    for (let x = 0; x < Math.max(dels.length, adds.length); x++) {
      rows.push([dels[x], adds[x], dels[x] === undefined ? "add" : adds[x] === undefined ? "del" : "change"]);
    }
  }
  return rows;
}

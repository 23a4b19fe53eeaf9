/** Enforces the layering geo <- streams <- src (ARCHITECTURE.md) and forbids cycles. */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'geo-is-pure',
      comment: 'geo/ imports nothing from streams/, src/ or bench/',
      severity: 'error',
      from: { path: '^geo/' },
      to: { path: '^(streams|src|bench|test)/' },
    },
    {
      name: 'geo-no-io',
      comment: 'geo/ does no I/O: no node built-ins that touch the outside world',
      severity: 'error',
      from: { path: '^geo/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(fs|net|http|https|child_process|dgram|dns|tls|worker_threads|cluster|os|process)$' },
    },
    {
      name: 'streams-not-src',
      severity: 'error',
      from: { path: '^streams/' },
      to: { path: '^(src|bench|test)/' },
    },
    {
      name: 'src-not-bench-or-test',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(bench|test)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json'] },
  },
};

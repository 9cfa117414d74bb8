/**
 * Imported first by the local CLIs: the pinned AWS SDK warns on every start that releases
 * after early 2027 need Node.js 22. The README says so once; the console need not repeat it.
 */
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

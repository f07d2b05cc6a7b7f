<?php
// Router for PHP's built-in server (see orchestrator-web): what the platform's nginx location does.
// An existing file, or a directory with an index, is left to the server (`return false`): static files are
// sent as they are, PHP files run. Anything else goes to the passthru script, or is a 404 without one.
$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?: '/');
if (strpos($path, "\0") !== false) {
    http_response_code(400);
    echo "Bad Request\n";
    return true;
}
// No `..` segment, so the path stays under the root; symlinks in it are followed, as nginx does
// (public/storage -> ../storage/app/public, uploads on a mount).
$inside = !preg_match('#(^|/)\.\.(/|$)#', $path);
$target = $root . $path;
if ($inside && (is_file($target) || is_file("$target/index.php") || is_file("$target/index.html"))) {
    return false;
}
$passthru = getenv('ORCHESTRATOR_WEB_PASSTHRU');
if ($passthru === false || $passthru === '' || !is_file($root . $passthru)) {
    http_response_code(404);
    echo "Not Found\n";
    return true;
}
$_SERVER['SCRIPT_NAME'] = $passthru;
$_SERVER['PHP_SELF'] = $passthru;
$_SERVER['SCRIPT_FILENAME'] = $root . $passthru;
chdir(dirname($root . $passthru));
require $root . $passthru;

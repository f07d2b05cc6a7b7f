<?php
header('Content-Type: application/json');
echo json_encode(['front' => true, 'uri' => $_SERVER['REQUEST_URI'], 'script' => $_SERVER['SCRIPT_NAME'],
                  'memory_limit' => ini_get('memory_limit'), 'sapi' => PHP_SAPI,
                  'apcu' => extension_loaded('apcu'), 'calendar' => extension_loaded('calendar')]);

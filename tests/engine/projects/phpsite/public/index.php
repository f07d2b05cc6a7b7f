<?php
header('Content-Type: application/json');
echo json_encode(['front' => true, 'uri' => $_SERVER['REQUEST_URI'], 'script' => $_SERVER['SCRIPT_NAME'],
                  'app' => getenv('PLATFORM_APPLICATION_NAME')]);

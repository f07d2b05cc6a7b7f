<?php
echo "direct " . PHP_VERSION;

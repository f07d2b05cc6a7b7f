<?php
echo "ran an uploaded script";

<?php echo 'outside the web root';
